package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/sessiongen/sessiongen/runtime"
)

// downable is a store that an outage can be switched on for.
type downable struct {
	runtime.Store
	down atomic.Bool
}

func (d *downable) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if d.down.Load() {
		return nil, 0, runtime.ErrUnavailable
	}
	return d.Store.Load(ctx, key)
}

// chromium returns Debian's Chromium, or skips the test (fails when
// SESSIONGEN_REQUIRE_BROWSER=1).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SESSIONGEN_REQUIRE_BROWSER") == "1" {
		t.Fatal("chromium is not installed (apt-get install chromium), and SESSIONGEN_REQUIRE_BROWSER=1")
	}
	t.Skip("chromium is not installed: apt-get install chromium (or run scripts/test.sh, which installs it)")
	return ""
}

// TestBrowser walks the demo in headless Chromium on every store the
// -store flag offers, over HTTPS with the __Host- cookie: log in, add to
// the cart, reload, a second tab sees the cart, a logout in one tab logs
// the other out, a tampered cookie is no session, signed in from a second
// browser "log out everywhere else" ends it, and a store outage is the
// outage page (sealed cookies have no store to lose, and no list). A failing step
// leaves a screenshot.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser and every store")
	}
	bin := chromium(t)
	forEachStore(t, func(t *testing.T, store runtime.Backend, name string) {
		cfg := runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("b"), 32)}}
		var down *downable
		if st, ok := store.(runtime.Store); ok {
			down = &downable{Store: st}
			cfg.Store = down
		} // else no server-side store to lose: the session is in the cookie.
		cfg.Cookie.Name = "__Host-shop"
		app, sessions, err := newApp(cfg, name)
		if err != nil {
			t.Fatal(err)
		}
		defer sessions.Close()
		srv := httptest.NewTLSServer(app)
		defer srv.Close()
		browse(t, bin, srv, down)
	})
}

func browse(t *testing.T, bin string, srv *httptest.Server, down *downable) {
	// Trust the test server's certificate, and only it.
	cert, err := x509.ParseCertificate(srv.TLS.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	// Not t.TempDir: Chromium's helpers may still write there for a moment
	// after the browser is gone.
	profile, err := os.MkdirTemp("", "sessiongen-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])),
	)
	defer cancel()
	// The protocol's newer event fields that this chromedp cannot decode
	// (Chromium moves faster) are of no use here: drop those messages.
	tabA, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(func(string, ...any) {}))
	defer cancel()
	tabA, cancel = context.WithTimeout(tabA, 60*time.Second)
	defer cancel()
	shot := func(ctx context.Context, step string) {
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(80)); err == nil {
			dir := os.Getenv("SESSIONGEN_SCREENSHOTS")
			if dir == "" {
				dir = os.TempDir()
			}
			p := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()+"-"+step)+".jpg")
			os.WriteFile(p, png, 0o644)
			t.Logf("screenshot of the failing step: %s", p)
		}
	}
	run := func(ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot(ctx, step)
			t.Fatalf("%s: %v", step, err)
		}
	}
	// expect waits until the page's text holds want.
	expect := func(ctx context.Context, step, want string) {
		t.Helper()
		var body string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			if body = text; err == nil && strings.Contains(body, want) {
				return
			}
		}
		shot(ctx, step)
		t.Fatalf("%s: the page never showed %q; it shows:\n%s", step, want, body)
	}
	run(tabA, "open", chromedp.Navigate(srv.URL))
	expect(tabA, "open", "none yet")
	run(tabA, "log in", chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ada@example.com"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)))
	expect(tabA, "log in", "Signed in as ada@example.com")
	run(tabA, "add to cart", chromedp.SetValue(chromedp.CSS(`select[name=sku]`), "pot"),
		chromedp.Click(chromedp.CSS(`form[action="/cart"] button:not([type])`)))
	expect(tabA, "add to cart", "1 × Teapot")
	run(tabA, "reload", chromedp.Reload())
	expect(tabA, "reload", "1 × Teapot")

	cookies, err := chromedp.Run(tabA, browserCookies)
	if err != nil {
		shot(tabA, "read the cookie")
		t.Fatalf("read the cookie: %v", err)
	}
	name := "__Host-shop"
	if down == nil {
		name += ".0" // sealed: the first (here the only) chunk
	}
	if len(cookies) != 1 || cookies[0].Name != name || !cookies[0].Secure || !cookies[0].HTTPOnly || cookies[0].Path != "/" || cookies[0].SameSite != network.CookieSameSiteLax {
		t.Fatalf("the browser holds %d cookies (%+v), want one %s cookie, Secure, HttpOnly, Path=/, SameSite=Lax", len(cookies), cookies[0], name)
	}

	tabB, cancelB := chromedp.NewContext(tabA) // a second tab of the same browser
	defer cancelB()
	run(tabB, "second tab", chromedp.Navigate(srv.URL))
	expect(tabB, "second tab", "1 × Teapot")
	run(tabB, "log out in the second tab", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	expect(tabB, "log out in the second tab", "You are logged out.")
	run(tabA, "first tab after the logout", chromedp.Reload())
	expect(tabA, "first tab after the logout", "Log in")

	// Log in again, then tamper with the cookie: no session, no error.
	run(tabA, "log in again", chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ada@example.com"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)))
	expect(tabA, "log in again", "Signed in as ada@example.com")
	run(tabA, "tamper", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		cs, err := browserCookies(ctx, tg)
		if err != nil || len(cs) == 0 {
			return chromedp.Void{}, err
		}
		c := cs[0]
		v := []byte(c.Value)
		v[3] ^= 1 // one character of the ID changes: the signature no longer holds
		yes := true
		_, err = cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: c.Name, Value: string(v), URL: srv.URL, Secure: &yes, HTTPOnly: &yes, Path: "/"})
		return chromedp.Void{}, err
	}, chromedp.Reload())
	expect(tabA, "tampered cookie", "Log in")

	// Signed in from two browsers: each lists both; "log out everywhere
	// else" in one ends the other.
	run(tabA, "log in as grace", chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "grace@example.com"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)))
	expect(tabA, "log in as grace", "Signed in as grace@example.com")
	other, cancelOther := chromedp.NewContext(tabA, chromedp.WithNewBrowserContext()) // its own cookies
	defer cancelOther()
	run(other, "another browser", chromedp.Navigate(srv.URL), chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "grace@example.com"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)))
	expect(other, "another browser", "Signed in as grace@example.com")
	run(tabA, "your sessions", chromedp.Navigate(srv.URL+"/sessions"))
	if down == nil {
		expect(tabA, "your sessions", "cannot list them")
		run(tabA, "back", chromedp.Navigate(srv.URL))
		return
	}
	expect(tabA, "your sessions", "(this browser)")
	list, err := chromedp.Run(tabA, chromedp.Text(chromedp.CSS("ul")))
	if err != nil {
		t.Fatalf("read the list: %v", err)
	}
	if n := strings.Count(list, "signed in "); n != 2 {
		t.Fatalf("your sessions lists %d, want 2:\n%s", n, list)
	}
	run(tabA, "log out everywhere else", chromedp.Click(chromedp.CSS(`form[action="/sessions/others"] button`)))
	expect(tabA, "log out everywhere else", "Logged out everywhere else.")
	run(other, "the other browser after", chromedp.Reload())
	expect(other, "the other browser after", "Log in")
	run(tabA, "log out", chromedp.Navigate(srv.URL), chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	expect(tabA, "log out", "You are logged out.")

	// A store outage: the styled page, which says the session is kept.
	run(tabA, "log in before the outage", chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ada@example.com"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)))
	expect(tabA, "log in before the outage", "Signed in as ada@example.com")
	down.down.Store(true)
	run(tabA, "outage", chromedp.Reload())
	expect(tabA, "outage", "Your session is kept")
	down.down.Store(false)
	run(tabA, "after the outage", chromedp.Reload())
	expect(tabA, "after the outage", "Signed in as ada@example.com")
}

// browserCookies reads the cookies the browser holds for the page.
func browserCookies(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
	r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{})
	return r.Cookies, err
}
