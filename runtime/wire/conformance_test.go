package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
)

// suiteCase is one value of the msgpack-test-suite dataset
// (github.com/kawanet/msgpack-test-suite, MIT, testdata/msgpack-test-suite)
// with every valid encoding of it.
type suiteCase struct {
	Nil       *struct{}      `json:"nil"`
	Bool      *bool          `json:"bool"`
	Binary    *string        `json:"binary"`
	Number    *float64       `json:"number"`
	Bignum    *string        `json:"bignum"`
	String    *string        `json:"string"`
	Array     []any          `json:"array"`
	Map       map[string]any `json:"map"`
	Timestamp *[2]int64      `json:"timestamp"`
	Ext       *[2]any        `json:"ext"`
	Msgpack   []string       `json:"msgpack"`
}

func loadSuite(t *testing.T) map[string][]suiteCase {
	t.Helper()
	b, err := os.ReadFile("testdata/msgpack-test-suite/msgpack-test-suite.json")
	if err != nil {
		t.Fatal(err)
	}
	var suite map[string][]suiteCase
	if err := json.Unmarshal(b, &suite); err != nil {
		t.Fatal(err)
	}
	return suite
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConformance runs the Read and Append functions over an outside
// dataset: every encoding of every value reads back as that value or is
// refused (an integer read never wraps), every append is one of the
// encodings listed, and every truncation is refused.
func TestConformance(t *testing.T) {
	suite := loadSuite(t)
	encodings := 0
	for group, cases := range suite {
		for _, c := range cases {
			for _, enc := range c.Msgpack {
				b := unhex(t, enc)
				encodings++
				c.check(t, group+" "+enc, b)
				if end, err := Skip(b, 0); err != nil || end != len(b) {
					t.Errorf("%s %s: Skip = %d, %v; want %d", group, enc, end, err, len(b))
				}
				for n := 1; n < len(b); n++ {
					if _, err := Skip(b[:n], 0); err == nil {
						t.Errorf("%s %s: Skip accepted the first %d bytes", group, enc, n)
					}
				}
			}
			c.checkAppend(t, group)
		}
	}
	if encodings < 200 {
		t.Fatalf("the dataset held %d encodings; it holds 233", encodings)
	}
}

// integer returns the case's number as an integer, if it is one that
// fits in an int64 or a uint64.
func (c *suiteCase) integer() (n int64, u uint64, signedOK, unsignedOK bool) {
	s := ""
	switch {
	case c.Bignum != nil:
		s = *c.Bignum
	case c.Number != nil && *c.Number == math.Trunc(*c.Number) && math.Abs(*c.Number) < 1<<53:
		s = strconv.FormatInt(int64(*c.Number), 10)
	default:
		return 0, 0, false, false
	}
	n, err1 := strconv.ParseInt(s, 10, 64)
	u, err2 := strconv.ParseUint(s, 10, 64)
	return n, u, err1 == nil, err2 == nil
}

func (c *suiteCase) float() float64 {
	if c.Bignum != nil {
		f, _ := strconv.ParseFloat(*c.Bignum, 64)
		return f
	}
	return *c.Number
}

func (c *suiteCase) check(t *testing.T, what string, b []byte) {
	t.Helper()
	whole := func(j int, err error) bool {
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return false
		}
		if j != len(b) {
			t.Errorf("%s: read %d of %d bytes", what, j, len(b))
			return false
		}
		return true
	}
	switch {
	case c.Nil != nil || c.Msgpack[0] == "c0":
		if !mp.IsNil(b, 0) {
			t.Errorf("%s: mp.IsNil false", what)
		}
	case c.Bool != nil:
		if v, j, err := mp.ReadBool(b, 0); whole(j, err) && v != *c.Bool {
			t.Errorf("%s: %v", what, v)
		}
	case c.Binary != nil:
		want := unhex(t, *c.Binary)
		if v, j, err := mp.ReadBytes(b, 0); whole(j, err) && !bytes.Equal(v, want) {
			t.Errorf("%s: % x, want % x", what, v, want)
		}
	case c.Number != nil || c.Bignum != nil:
		isFloatCode := b[0] == 0xca || b[0] == 0xcb
		n, u, signedOK, unsignedOK := c.integer()
		v, j, err := mp.ReadInt(b, 0, 64)
		switch {
		case isFloatCode || !signedOK:
			if err == nil {
				t.Errorf("%s: mp.ReadInt = %d, want an error (never wrapped, never truncated)", what, v)
			}
		case whole(j, err) && v != n:
			t.Errorf("%s: mp.ReadInt = %d, want %d", what, v, n)
		}
		uv, j, err := mp.ReadUint(b, 0, 64)
		switch {
		case isFloatCode || !unsignedOK:
			if err == nil {
				t.Errorf("%s: mp.ReadUint = %d, want an error", what, uv)
			}
		case whole(j, err) && uv != u:
			t.Errorf("%s: mp.ReadUint = %d, want %d", what, uv, u)
		}
		if f, j, err := mp.ReadFloat64(b, 0); whole(j, err) && f != c.float() {
			t.Errorf("%s: mp.ReadFloat64 = %v, want %v", what, f, c.float())
		}
		if b[0] == 0xcb { // msgpack/v5 refuses a float 64 for a float32, and so do we
			if _, _, err := mp.ReadFloat32(b, 0); err == nil {
				t.Errorf("%s: mp.ReadFloat32 accepted a float 64", what)
			}
		} else if f, j, err := mp.ReadFloat32(b, 0); whole(j, err) && f != float32(c.float()) {
			t.Errorf("%s: mp.ReadFloat32 = %v, want %v", what, f, float32(c.float()))
		}
	case c.String != nil:
		if v, j, err := mp.ReadString(b, 0); whole(j, err) && v != *c.String {
			t.Errorf("%s: %q, want %q", what, v, *c.String)
		}
	case c.Array != nil:
		if n, j, err := mp.ReadArrayLen(b, 0); err != nil || n != len(c.Array) || j > len(b) {
			t.Errorf("%s: mp.ReadArrayLen = %d, %v; want %d", what, n, err, len(c.Array))
		}
	case c.Map != nil:
		if n, j, err := ReadMapLen(b, 0); err != nil || n != len(c.Map) || j > len(b) {
			t.Errorf("%s: ReadMapLen = %d, %v; want %d", what, n, err, len(c.Map))
		}
	case c.Timestamp != nil:
		want := time.Unix(c.Timestamp[0], c.Timestamp[1])
		if v, j, err := mp.ReadTime(b, 0); whole(j, err) && !v.Equal(want) {
			t.Errorf("%s: %v, want %v", what, v, want)
		}
	}
	// Every truncation is refused by the typed reader too.
	for n := range len(b) {
		cut := b[:n]
		var err error
		switch {
		case c.Bool != nil:
			_, _, err = mp.ReadBool(cut, 0)
		case c.Binary != nil:
			_, _, err = mp.ReadBytes(cut, 0)
		case c.Number != nil || c.Bignum != nil:
			_, _, err = mp.ReadFloat64(cut, 0)
		case c.String != nil:
			_, _, err = mp.ReadString(cut, 0)
		case c.Timestamp != nil:
			_, _, err = mp.ReadTime(cut, 0)
		default:
			continue
		}
		if err == nil {
			t.Errorf("%s: the first %d bytes were accepted", what, n)
		}
	}
}

// checkAppend appends the case's value and wants one of its encodings.
func (c *suiteCase) checkAppend(t *testing.T, group string) {
	t.Helper()
	var got [][]byte
	switch {
	case c.Bool != nil:
		got = append(got, AppendBool(nil, *c.Bool))
	case c.Binary != nil:
		got = append(got, AppendBytes(nil, unhex(t, *c.Binary)))
	case c.Number != nil || c.Bignum != nil:
		n, u, signedOK, unsignedOK := c.integer()
		if signedOK {
			got = append(got, AppendInt(nil, n))
		}
		if unsignedOK {
			got = append(got, AppendUint(nil, u))
		}
		if !signedOK && !unsignedOK {
			got = append(got, AppendFloat64(nil, c.float()))
		}
	case c.String != nil:
		got = append(got, AppendString(nil, *c.String))
	case c.Timestamp != nil:
		got = append(got, AppendTime(nil, time.Unix(c.Timestamp[0], c.Timestamp[1])))
	case c.Array != nil:
		got = append(got, mp.AppendArrayLen(nil, len(c.Array)))
	case c.Map != nil:
		got = append(got, AppendMapLen(nil, len(c.Map)))
	}
	for _, g := range got {
		listed := slices.ContainsFunc(c.Msgpack, func(enc string) bool {
			e := unhex(t, enc)
			if c.Array != nil || c.Map != nil {
				return len(g) > 0 && bytes.HasPrefix(e, g)
			}
			return bytes.Equal(e, g)
		})
		if !listed {
			t.Errorf("%s: appended % x, not one of the listed encodings %v", group, g, c.Msgpack)
		}
	}
}
