package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/wire"
)

type visit = testsession.Visit

var routes = map[string]func(http.ResponseWriter, *http.Request, *visit){
	"/anon": func(w http.ResponseWriter, r *http.Request, v *visit) { fmt.Fprint(w, "ok") },
	"/login": func(w http.ResponseWriter, r *http.Request, v *visit) {
		v.Regenerate()
		v.SetUserID(42)
		v.SetEmail("ada@example.com")
		v.SetRoles([]string{"admin", "staff"})
		fmt.Fprint(w, "ok")
	},
	"/whoami": func(w http.ResponseWriter, r *http.Request, v *visit) {
		fmt.Fprintf(w, "%d %s new=%v", v.UserID(), v.Email(), v.IsNew())
	},
	"/id":     func(w http.ResponseWriter, r *http.Request, v *visit) { fmt.Fprint(w, v.ID()) },
	"/flash":  func(w http.ResponseWriter, r *http.Request, v *visit) { v.SetFlash("hello"); fmt.Fprint(w, "ok") },
	"/logout": func(w http.ResponseWriter, r *http.Request, v *visit) { v.Destroy(); fmt.Fprint(w, "bye") },
	"/regen": func(w http.ResponseWriter, r *http.Request, v *visit) {
		v.Regenerate()
		fmt.Fprint(w, v.ID())
	},
	"/incr": func(w http.ResponseWriter, r *http.Request, v *visit) {
		v.SetCounter(v.Counter() + 1)
		fmt.Fprint(w, v.Counter())
	},
	"/cart": func(w http.ResponseWriter, r *http.Request, v *visit) {
		v.SetCart([]testsession.CartItem{{SKU: "tea", Qty: 1, PriceCents: 350}})
		v.SetPrefs(map[string]string{"lang": "en"})
	},
	"/cart-inplace": func(w http.ResponseWriter, r *http.Request, v *visit) {
		v.Cart()[0].Qty = 7 // changed through the getter's slice
		v.Prefs()["theme"] = "dark"
	},
	"/cart-read": func(w http.ResponseWriter, r *http.Request, v *visit) {
		fmt.Fprintf(w, "%d %d %s", len(v.Cart()), v.Cart()[0].Qty, v.Prefs()["theme"])
	},
	"/write-only": func(w http.ResponseWriter, r *http.Request, v *visit) {
		v.SetFlash("w")
		w.Write([]byte("body")) // no WriteHeader: the commit hooks Write
	},
	"/flush": func(w http.ResponseWriter, r *http.Request, v *visit) {
		v.SetFlash("f")
		if err := http.NewResponseController(w).Flush(); err != nil {
			http.Error(w, err.Error(), 500)
		}
		fmt.Fprint(w, "flushed")
	},
	"/late": func(w http.ResponseWriter, r *http.Request, v *visit) {
		fmt.Fprint(w, "early")
		v.SetFlash("late") // after the headers: saved, since no new cookie is needed
	},
	"/save": func(w http.ResponseWriter, r *http.Request, v *visit) {
		v.SetFlash("saved")
		if err := v.Save(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, "ok")
	},
}

func TestAnonymousRequestCostsNothing(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, body := e.get("/anon")
	if body != "ok" || len(resp.Header["Set-Cookie"]) != 0 {
		t.Fatalf("body %q, Set-Cookie %q: want ok and no cookie", body, resp.Header["Set-Cookie"])
	}
	if n := e.store.loads.Load() + e.store.saves.Load() + e.store.touches.Load(); n != 0 {
		t.Fatalf("%d store calls, want 0", n)
	}
	// Reading a new session stores nothing either (saveUninitialized: false).
	resp, _ = e.get("/whoami")
	if len(resp.Header["Set-Cookie"]) != 0 || e.store.saves.Load() != 0 || e.mem.Len() != 0 {
		t.Fatalf("reading a new session set %q and saved %d records", resp.Header["Set-Cookie"], e.store.saves.Load())
	}
}

func TestLoginSetsSecureCookieAndReadsBack(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	c := sessionCookie(resp)
	if c == nil {
		t.Fatalf("login set no session cookie: %q", resp.Header["Set-Cookie"])
	}
	raw := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"__Host-session=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("Set-Cookie %q lacks %s", raw, attr)
		}
	}
	if strings.Contains(raw, "Max-Age") || strings.Contains(raw, "Domain") {
		t.Errorf("Set-Cookie %q: want a host-only browser-session cookie", raw)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if e.store.saves.Load() != 1 || e.store.loads.Load() != 0 {
		t.Errorf("login: %d saves and %d loads, want 1 and 0", e.store.saves.Load(), e.store.loads.Load())
	}
	_, body := e.get("/whoami")
	if body != "42 ada@example.com new=false" {
		t.Fatalf("whoami = %q", body)
	}
}

func TestOneChangedFieldIsOneWriteAndUnchangedIsNone(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	e.get("/login")
	e.store.reset()

	resp, _ := e.get("/flash")
	if s, l := e.store.saves.Load(), e.store.loads.Load(); s != 1 || l != 1 {
		t.Fatalf("changing one field: %d saves, %d loads; want 1 and 1", s, l)
	}
	if len(resp.Header["Set-Cookie"]) != 0 {
		t.Errorf("an existing session's save re-sent the cookie: %q", resp.Header["Set-Cookie"])
	}
	e.store.reset()
	for range 5 {
		e.get("/whoami")
	}
	if s := e.store.saves.Load(); s != 0 {
		t.Fatalf("5 read-only requests made %d writes, want 0", s)
	}
	if tc := e.store.touches.Load(); tc > 1 {
		t.Fatalf("5 read-only requests made %d touches, want at most 1 (rate-limited)", tc)
	}
}

func TestBadCookiesAreNoSession(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	good := sessionCookie(resp)
	id, sig, _ := strings.Cut(good.Value, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[5] == 'A' {
			b[5] = 'B'
		} else {
			b[5] = 'A'
		}
		return string(b)
	}
	bad := map[string]string{
		"garbage":      "not-a-session",
		"unsigned":     id,
		"tampered sig": id + "." + flip(sig),
		"tampered id":  flip(id) + "." + sig,
		"empty":        "",
		"two dots":     id + ".." + sig[1:],
		"long":         strings.Repeat("A", 5000),
	}
	for name, value := range bad {
		t.Run(name, func(t *testing.T) {
			e.store.reset()
			resp, body := e.do(e.bare(), "/whoami", &http.Cookie{Name: good.Name, Value: value})
			if resp.StatusCode != 200 || body != "0  new=true" {
				t.Fatalf("status %d body %q: want 200 and a fresh session", resp.StatusCode, body)
			}
			if n := e.store.loads.Load(); n != 0 {
				t.Fatalf("an invalid cookie caused %d store loads, want 0", n)
			}
		})
	}
	// A quoted value (RFC 6265 allows it, Go reports Cookie.Quoted) is not ours.
	if _, body := e.doRaw(good.Name + `="` + good.Value + `"`); body != "0  new=true" {
		t.Fatalf("quoted cookie: %q, want no session", body)
	}
	// The genuine cookie still works from a fresh client.
	_, body := e.do(e.bare(), "/whoami", good)
	if body != "42 ada@example.com new=false" {
		t.Fatalf("genuine cookie: %q", body)
	}
}

func TestDuplicateCookiesCannotShadowTheRealOne(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	good := sessionCookie(resp)
	for _, header := range []string{
		good.Name + "=forged.value; " + good.Name + "=" + good.Value,
		good.Name + "=" + good.Value + "; " + good.Name + "=garbage",
		good.Name + "=" + good.Value + "; " + good.Name + "=" + good.Value,
	} {
		if _, body := e.doRaw(header); body != "42 ada@example.com new=false" {
			t.Errorf("Cookie: %s\ngave %q, want the valid session", header, body)
		}
	}
}

func (e *env) doRaw(cookieHeader string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/whoami", nil)
	req.Header.Set("Cookie", cookieHeader)
	resp, err := e.bare().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 256)
	n, _ := resp.Body.Read(buf)
	return resp, strings.TrimSpace(string(buf[:n]))
}

func TestDestroyDeletesRecordAndExpiresCookie(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	old := sessionCookie(resp)
	id, _, _ := strings.Cut(old.Value, ".")

	resp, _ = e.get("/logout")
	raw := resp.Header.Get("Set-Cookie")
	if !strings.Contains(raw, "Max-Age=0") || !strings.Contains(raw, "__Host-session=;") {
		t.Fatalf("logout Set-Cookie %q: want an empty value and Max-Age=0", raw)
	}
	if _, _, err := e.mem.Load(context.Background(), runtime.StoreKey(id)); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("record after Destroy: err %v, want ErrNotFound", err)
	}
	_, body := e.do(e.bare(), "/whoami", old)
	if body != "0  new=true" {
		t.Fatalf("replayed cookie after logout: %q, want no session", body)
	}
}

func TestRegenerateKeepsDataAndKillsOldID(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	old := sessionCookie(resp)
	oldID, _, _ := strings.Cut(old.Value, ".")

	resp, newID := e.get("/regen")
	c := sessionCookie(resp)
	if c == nil || newID == oldID || !strings.HasPrefix(c.Value, newID+".") {
		t.Fatalf("regenerate: cookie %v, id %q (old %q)", c, newID, oldID)
	}
	if _, body := e.get("/whoami"); body != "42 ada@example.com new=false" {
		t.Fatalf("data after regenerate: %q", body)
	}
	if _, body := e.do(e.bare(), "/whoami", old); body != "0  new=true" {
		t.Fatalf("old cookie after regenerate: %q, want no session", body)
	}
}

func TestUnknownSignedIDIsNotAdopted(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	c := sessionCookie(resp)
	e.get("/logout") // the ID is now unknown to the store, its signature still valid
	resp, body := e.do(e.bare(), "/incr", c)
	n := sessionCookie(resp)
	if body != "1" || n == nil || n.Value == c.Value {
		t.Fatalf("body %q, cookie %v: want a fresh session under a new ID", body, n)
	}
}

func TestSecretRotation(t *testing.T) {
	store := runtime.NewMemoryStore()
	defer store.Close()
	oldEnv := newEnv(t, runtime.Config{Store: store, Secrets: [][]byte{secretA}}, routes)
	resp, _ := oldEnv.get("/login")
	c := sessionCookie(resp)

	rotated := newEnv(t, runtime.Config{Store: store, Secrets: [][]byte{secretB, secretA}}, routes)
	if _, body := rotated.do(rotated.bare(), "/whoami", c); body != "42 ada@example.com new=false" {
		t.Fatalf("cookie signed with the old secret, still listed: %q", body)
	}
	removed := newEnv(t, runtime.Config{Store: store, Secrets: [][]byte{secretB}}, routes)
	if _, body := removed.do(removed.bare(), "/whoami", c); body != "0  new=true" {
		t.Fatalf("cookie signed with a removed secret: %q, want no session", body)
	}
}

func TestCookieIsCommittedByWriteAndFlush(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	for _, path := range []string{"/write-only", "/flush"} {
		e.client.Jar = nil
		resp, body := e.do(e.bare(), path, nil)
		if sessionCookie(resp) == nil {
			t.Errorf("%s: no Set-Cookie (body %q)", path, body)
		}
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d, body %q", path, resp.StatusCode, body)
		}
	}
}

func TestChangeAfterHeadersIsSavedWhenNoCookieIsNeeded(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	e.get("/login")
	e.get("/late")
	if _, body := e.get("/whoami"); body != "42 ada@example.com new=false" {
		t.Fatalf("whoami %q", body)
	}
	// A new session changed after the headers cannot get its cookie: not saved, and logged.
	e2 := newEnv(t, runtime.Config{}, routes)
	e2.get("/late")
	if e2.mem.Len() != 0 || !strings.Contains(e2.logs.String(), "after the response headers") {
		t.Fatalf("late change of a new session: %d records, log %q", e2.mem.Len(), e2.logs.String())
	}
}

func TestExplicitSave(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, body := e.get("/save")
	if body != "ok" || sessionCookie(resp) == nil {
		t.Fatalf("save: %q, cookie %v", body, sessionCookie(resp))
	}
	if e.store.saves.Load() != 1 {
		t.Fatalf("%d saves, want 1 (the explicit Save; nothing left at commit)", e.store.saves.Load())
	}
}

func TestInPlaceChangesAreSaved(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	e.get("/cart")
	e.store.reset()
	e.get("/cart-read")
	if s := e.store.saves.Load(); s != 0 {
		t.Fatalf("reading reference fields without changing them wrote %d times", s)
	}
	e.get("/cart-inplace")
	if s := e.store.saves.Load(); s != 1 {
		t.Fatalf("in-place change: %d saves, want 1", s)
	}
	if _, body := e.get("/cart-read"); body != "1 7 dark" {
		t.Fatalf("after in-place change: %q, want \"1 7 dark\"", body)
	}
}

func TestIdleAndAbsoluteExpiry(t *testing.T) {
	var now time.Time = time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	mem := runtime.NewMemoryStore(runtime.WithClock(clock))
	defer mem.Close()
	cfg := runtime.Config{Store: mem, Secrets: [][]byte{secretA}, IdleTimeout: 10 * time.Minute, Lifetime: time.Hour}
	defer runtime.SetClock(clock)()
	e := newEnv(t, cfg, routes)

	e.get("/login")
	for range 6 { // 6 × 9 min: active, so the idle timeout never fires...
		now = now.Add(9 * time.Minute)
		if _, body := e.get("/whoami"); body != "42 ada@example.com new=false" {
			t.Fatalf("at %v: %q, want the session alive", now, body)
		}
	}
	// ...but 7 minutes later the absolute lifetime (1 h) has passed.
	now = now.Add(7 * time.Minute)
	if _, body := e.get("/whoami"); body != "0  new=true" {
		t.Fatalf("after the lifetime: %q, want a new session", body)
	}
	e.get("/login")
	now = now.Add(11 * time.Minute)
	if _, body := e.get("/whoami"); body != "0  new=true" {
		t.Fatalf("after 11 idle minutes: %q, want a new session", body)
	}
}

func TestConfigErrors(t *testing.T) {
	bad := map[string]runtime.Config{
		"no secret":    {},
		"short secret": {Secrets: [][]byte{[]byte("too short")}},
		"host prefix with domain": {Secrets: [][]byte{secretA},
			Cookie: runtime.Cookie{Name: "__Host-s", Domain: "example.com"}},
		"host prefix with path":                      {Secrets: [][]byte{secretA}, Cookie: runtime.Cookie{Name: "__Host-s", Path: "/app"}},
		"secure prefix without secure":               {Secrets: [][]byte{secretA}, Cookie: runtime.Cookie{Name: "__Secure-s", Secure: runtime.Off}},
		"samesite none without secure":               {Secrets: [][]byte{secretA}, Cookie: runtime.Cookie{SameSite: http.SameSiteNoneMode, Secure: runtime.Off}},
		"partitioned without secure":                 {Secrets: [][]byte{secretA}, Cookie: runtime.Cookie{Partitioned: true, Secure: runtime.Off}},
		"bad name":                                   {Secrets: [][]byte{secretA}, Cookie: runtime.Cookie{Name: "my session"}},
		"negative idle":                              {Secrets: [][]byte{secretA}, IdleTimeout: -time.Second},
		"host prefix in lower case with domain":      {Secrets: [][]byte{secretA}, Cookie: runtime.Cookie{Name: "__host-s", Domain: "example.com"}}, // browsers match the prefix in any case
		"secure prefix in upper case without secure": {Secrets: [][]byte{secretA}, Cookie: runtime.Cookie{Name: "__SECURE-s", Secure: runtime.Off}},
		"samesite out of range":                      {Secrets: [][]byte{secretA}, Cookie: runtime.Cookie{SameSite: 7}},
		"relative path":                              {Secrets: [][]byte{secretA}, Cookie: runtime.Cookie{Path: "app"}},
		"grace as long as RenewAfter":                {Secrets: [][]byte{secretA}, RenewAfter: time.Minute, RenewGrace: time.Minute}, // a forward could outlive the next renewal
	}
	for name, cfg := range bad {
		if _, err := testsession.NewVisitManager(cfg); err == nil {
			t.Errorf("%s: NewVisitManager accepted it", name)
		}
	}
	m, err := testsession.NewVisitManager(runtime.Config{Secrets: [][]byte{secretA}})
	if err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	m.Close()
}

func TestInsecureCookieForLocalDevelopment(t *testing.T) {
	e := newEnv(t, runtime.Config{Cookie: runtime.Cookie{Secure: runtime.Off}}, routes)
	resp, _ := e.get("/login")
	raw := resp.Header.Get("Set-Cookie")
	if strings.Contains(raw, "Secure") || !strings.HasPrefix(raw, "session=") || !strings.Contains(raw, "HttpOnly") {
		t.Fatalf("Set-Cookie %q: want session=…, HttpOnly, no Secure", raw)
	}
}

func TestVisitFromWithoutMiddleware(t *testing.T) {
	if v := testsession.VisitFrom(context.Background()); v != nil {
		t.Fatalf("VisitFrom on a bare context = %v, want nil", v)
	}
}

func TestSessionIsSafeForConcurrentUseWithinARequest(t *testing.T) {
	e := newEnv(t, runtime.Config{}, map[string]func(http.ResponseWriter, *http.Request, *visit){
		"/par": func(w http.ResponseWriter, r *http.Request, v *visit) {
			done := make(chan struct{})
			for i := range 8 {
				go func() {
					defer func() { done <- struct{}{} }()
					v.SetEmail(strconv.Itoa(i))
					_ = v.Email()
					v.UpdateRoles(func(r *[]string) { *r = append(*r, "x") })
				}()
			}
			for range 8 {
				<-done
			}
			fmt.Fprint(w, len(v.Roles()))
		},
	})
	if _, body := e.get("/par"); body != "8" {
		t.Fatalf("8 goroutines appended %s roles, want 8", body)
	}
}

func TestHijackSavesTheSessionFirst(t *testing.T) {
	e := newEnv(t, runtime.Config{}, map[string]func(http.ResponseWriter, *http.Request, *visit){
		"/ws": func(w http.ResponseWriter, r *http.Request, v *visit) {
			v.SetFlash("upgraded")
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			defer conn.Close()
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			buf.Flush()
		},
	})
	resp, body := e.get("/ws")
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("hijacked response: %d %q", resp.StatusCode, body)
	}
	if e.mem.Len() != 1 {
		t.Fatalf("%d records after a hijacked request that set a field, want 1", e.mem.Len())
	}
}

// TestUntouchedFieldsAreCopiedByteForByte: a write encodes only what the
// request decoded or set; every other field, one written in a wider
// encoding, one whose type no longer fits and one this code does not
// know, goes back to the store exactly as it was.
func TestUntouchedFieldsAreCopiedByteForByte(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	id, _, _ := strings.Cut(sessionCookie(resp).Value, ".")
	key := runtime.StoreKey(id)
	ctx := context.Background()
	now := time.Now().Unix()
	rec := wire.AppendInt([]byte{0x01}, now)                               // format version, created
	rec = wire.AppendInt(append(rec, 0x00), now)                           // flags, issued
	wideUID := []byte{0xa3, 'u', 'i', 'd', 0xd3, 0, 0, 0, 0, 0, 0, 0, 42}  // int64 42, not its shortest form
	badEmail := []byte{0xa5, 'e', 'm', 'a', 'i', 'l', 0x07}                // an int where a string is stored
	future := []byte{0xa6, 'f', 'u', 't', 'u', 'r', 'e', 0x92, 0x01, 0xc3} // a field of a later release
	rec = append(append(append(append(rec, 0x83), wideUID...), badEmail...), future...)
	if err := e.mem.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := e.mem.Save(ctx, key, rec, 0, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.do(e.bare(), "/flash", sessionCookie(resp)); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	saved, _, err := e.mem.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for name, part := range map[string][]byte{"uid": wideUID, "email": badEmail, "future": future, "flash": []byte("\xa5flash\xa5hello")} {
		if !bytes.Contains(saved, part) {
			t.Errorf("%s: % x is not in the saved record % x", name, part, saved)
		}
	}
	if strings.Contains(e.logs.String(), "no longer decodes") {
		t.Errorf("a field nobody read was decoded: %s", e.logs.String())
	}
	// Reading the field that no longer fits drops it, with a log line.
	if _, body := e.do(e.bare(), "/whoami", sessionCookie(resp)); !strings.HasPrefix(body, "42 ") {
		t.Errorf("whoami: %q, want uid 42 and an empty email", body)
	}
	if !strings.Contains(e.logs.String(), "no longer decodes") {
		t.Errorf("no log line for the field that no longer decodes: %s", e.logs.String())
	}
}
