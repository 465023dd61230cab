package redis

import (
	"strings"
	"testing"
)

func TestNewRejectsBadURLsClearly(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"localhost:6379", `scheme "localhost"`},
		{"http://localhost:6379", `scheme "http", want redis://`},
		{"redis://", "names no host"},
		{"redis://localhost:6379/x", "invalid database number"},
		{"redis://:s3cret@localhost:6379/x", "xxxxx"},
		{"redis://%zz", "not a URL"},
	} {
		_, err := New(tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) = %v, want an error mentioning %q", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("New(%q) printed the password: %v", tc.url, err)
		}
	}
	for _, u := range []string{"redis://localhost:6379", "redis://user:pw@10.0.0.1:6380/2", "rediss://localhost", "unix:///run/redis.sock?db=1"} {
		s, err := New(u)
		if err != nil {
			t.Errorf("New(%q): %v", u, err)
			continue
		}
		s.Close()
	}
}

func TestOptionsAreValidated(t *testing.T) {
	for _, opt := range []Option{WithTimeout(0), WithMaxRecordSize(0), WithMaxRecordSize(MaxRecordSize + 1), WithPrefix(strings.Repeat("p", 65))} {
		if _, err := New("redis://localhost", opt); err == nil {
			t.Errorf("an invalid option was accepted")
		}
	}
	if _, err := NewFromClient(nil); err == nil {
		t.Errorf("NewFromClient(nil) was accepted")
	}
}
