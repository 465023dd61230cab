package runtime_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

func TestInspectReadsWhatTheStoreHolds(t *testing.T) {
	e := newEnv(t, runtime.Config{}, map[string]func(http.ResponseWriter, *http.Request, *testsession.Visit){
		"/set": func(w http.ResponseWriter, r *http.Request, v *testsession.Visit) {
			v.SetEmail("ada@example.com")
			v.SetCart([]testsession.CartItem{{SKU: "tea", Qty: 2, PriceCents: 350}})
			v.SetPrefs(map[string]string{"lang": "en"})
			v.SetLastSeen(time.Unix(1_800_000_000, 0))
			v.RememberMe(true)
		},
		"/renew": func(w http.ResponseWriter, r *http.Request, v *testsession.Visit) { v.Regenerate() },
	})
	resp, _ := e.get("/set")
	cookie := sessionCookie(resp)
	ctx := context.Background()
	rec, err := runtime.Inspect(ctx, e.mem, cookie.Value)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(cookie.Value, ".")
	if rec.Key != runtime.StoreKey(id) || rec.Version == 0 || !rec.Persistent || time.Since(rec.Created) > time.Minute {
		t.Errorf("header: %+v", rec)
	}
	want := map[string]any{
		"email": "ada@example.com",
		"cart":  []any{map[string]any{"sku": "tea", "qty": int64(2), "price": int64(350)}},
		"prefs": map[string]any{"lang": "en"},
	}
	for k, w := range want {
		if !reflect.DeepEqual(rec.Fields[k], w) {
			t.Errorf("field %q = %#v, want %#v", k, rec.Fields[k], w)
		}
	}
	if seen, _ := rec.Fields["seen"].(time.Time); !seen.Equal(time.Unix(1_800_000_000, 0)) {
		t.Errorf("seen = %v", rec.Fields["seen"])
	}
	// A bare ID works too; nothing returned holds the ID.
	byID, err := runtime.Inspect(ctx, e.mem, id)
	if err != nil || byID.Key != rec.Key {
		t.Fatalf("by ID: %+v, %v", byID, err)
	}
	if s := strings.Join([]string{rec.Key, rec.Fields["email"].(string)}, " "); strings.Contains(s, id) {
		t.Fatal("the record holds the session ID")
	}
	// After Regenerate the old cookie names nothing.
	e.get("/renew")
	if _, err := runtime.Inspect(ctx, e.mem, cookie.Value); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("old cookie after Regenerate: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "garbage", strings.Repeat("x", 44)} {
		if _, err := runtime.Inspect(ctx, e.mem, bad); err == nil || errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Inspect(%q): %v, want an error saying it is no ID", bad, err)
		}
	}
}
