package main

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/mail"
	"slices"
	"strings"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/cookiestore"
)

// catalogue is what the shop sells, by SKU.
var catalogue = map[string]string{"tea": "Green tea", "mug": "Mug", "pot": "Teapot"}

// shop is the demo's handlers and what its page shows about itself.
type shop struct {
	storeName string // which store holds the sessions
	sealed    bool   // the session is in the cookie, sealed (-store cookie:)
	cookie    string // the session cookie's name and attributes, never its value
}

// newApp returns the shop's handler, served behind the session middleware.
// storeName and cookie describe the configuration for the page's panel.
func newApp(cfg runtime.Config, storeName string) (http.Handler, *VisitManager, error) {
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = storeError
	}
	sessions, err := NewVisitManager(cfg)
	if err != nil {
		return nil, nil, err
	}
	s := &shop{storeName: storeName, cookie: describeCookie(cfg.Cookie), sealed: sealedStore(cfg.Store)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("POST /login", login)
	mux.HandleFunc("POST /cart", addToCart)
	mux.HandleFunc("POST /logout", logout)
	mux.HandleFunc("GET /sessions", devices(sessions, cfg.MaxSessionsPerOwner, cfg.OverLimit == runtime.RefuseNew))
	mux.HandleFunc("POST /sessions/others", endOthers(sessions))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n")) // never touches the session: no store call, no cookie
	})
	return sessions.Middleware(mux), sessions, nil
}

// describeCookie renders the cookie's name and attributes as the demo
// configures them (runtime's defaults: HttpOnly, SameSite=Lax, Path=/).
func describeCookie(c runtime.Cookie) string {
	attrs := []string{c.Name, "Path=/", "HttpOnly", "SameSite=Lax"}
	if c.Secure != runtime.Off {
		attrs = append(attrs, "Secure")
	}
	return strings.Join(attrs, "; ")
}

const style = `<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
.flash{background:#eef6ee;border-left:4px solid #3a3;padding:.5rem 1rem}
.panel{background:#f4f4f8;border:1px solid #ccd;border-radius:6px;padding:.5rem 1rem;font-size:.9rem}
.panel code{background:#fff;padding:0 .2rem}
.error{background:#fdf0f0;border-left:4px solid #c33;padding:.5rem 1rem}
</style>`

var page = template.Must(template.New("page").Parse(`<!doctype html>
<title>sessiongen shop</title>` + style + `
<h1>sessiongen shop</h1>
<p>A small shop whose visitors' sessions are typed Go structs, kept on the
server by <a href="https://github.com/sessiongen/sessiongen">sessiongen</a>:
the cookie carries only a signed ID, and each request saves only what it
changed. Log in, add to the cart from two tabs at once, log out.</p>
{{with .Flash}}<p class=flash>{{.}}</p>{{end}}
{{if .Email}}
<p>Signed in as <b>{{.Email}}</b>.</p>
<h2>Cart</h2>
<ul>{{range .Cart}}<li>{{.Qty}} × {{.Name}}</li>{{else}}<li>empty</li>{{end}}</ul>
<p>Items in the cart: {{.Items}}</p>
<form method=post action=/cart>
<select name=sku>{{range $sku, $name := .Catalogue}}<option value="{{$sku}}">{{$name}}</option>{{end}}</select>
<button>Add to cart</button>
<button type=button onclick="addFive(this.form)">Add 5 at once</button></form>
<script>
// Five simultaneous requests that each add one item: UpdateCart replays
// an add that lost a race on the newer cart, so all five are kept.
function addFive(form) {
	const body = new URLSearchParams(new FormData(form));
	Promise.all([1, 2, 3, 4, 5].map(() => fetch("/cart", {method: "POST", body, redirect: "manual"}))).then(() => location.reload());
}
</script>
<form method=post action=/logout><button>Log out</button></form>
<p><a href="/sessions">Your sessions</a>: where else you are signed in.</p>
{{else}}
<form method=post action=/login><input name=email placeholder="you@example.com"><button>Log in</button></form>
{{end}}
<h2>What the server holds for you</h2>
<div class=panel>
<p>Store: <b>{{.Store}}</b>. Session: {{if .New}}none yet (nothing is stored until something changes){{else}}stored{{end}}.</p>
<p>Fields of <code>Visit</code>: <code>Email string</code> = {{printf "%q" .Email}},
<code>Cart []Item</code> = {{len .Cart}} line(s), <code>Flash string</code> (shown once, then cleared).</p>
{{if .Sealed}}<p>Cookie: <code>{{.Cookie}}</code> (and <code>.1</code>, <code>.2</code>… when the session outgrows one); its value is this session, encrypted and authenticated: the browser cannot read or change it.</p>
{{else}}<p>Cookie: <code>{{.Cookie}}</code>; its value is a random ID and a signature, never your data.</p>{{end}}
</div>
`))

// cartLine is a line of the cart as the page shows it.
type cartLine struct {
	Qty  int
	Name string
}

func (s *shop) home(w http.ResponseWriter, r *http.Request) {
	v := VisitFrom(r.Context())
	flash := v.Flash()
	if flash != "" {
		v.SetFlash("") // shown once
	}
	var lines []cartLine
	items := 0
	for _, it := range v.Cart() {
		lines = append(lines, cartLine{it.Qty, catalogue[it.SKU]})
		items += it.Qty
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	page.Execute(w, map[string]any{
		"Email": v.Email(), "Cart": lines, "Items": items, "Flash": flash, "Catalogue": catalogue,
		"Store": s.storeName, "Cookie": s.cookie, "New": v.IsNew(), "Sealed": s.sealed,
	})
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<title>{{.Title}}</title>` + style + `
<h1>{{.Title}}</h1>
<p class=error>{{.Message}}</p>
<p><a href="/">Back to the shop</a></p>
`))

// storeError answers a request whose session store failed: a page that
// says what happened to the visitor's session, and a log line.
func storeError(w http.ResponseWriter, r *http.Request, err error) {
	code, title, msg := http.StatusInternalServerError, "Something went wrong", "The session could not be saved."
	switch {
	case errors.Is(err, runtime.ErrOutcomeUnknown):
		code, title = http.StatusServiceUnavailable, "The session store did not answer"
		msg = "Your session is kept, but the store did not confirm your last change: it may or may not have been saved. Reload the page to see which before trying again."
	case errors.Is(err, runtime.ErrUnavailable):
		code, title = http.StatusServiceUnavailable, "The session store is unavailable"
		msg = "Your session is kept and nothing was changed. Please try again in a moment."
	case errors.Is(err, runtime.ErrTooManySessions):
		code, title = http.StatusConflict, "Signed in on too many devices"
		msg = "This account is signed in on as many devices as the shop allows. Sign out on one of them (Your sessions, there) and try again."
	case errors.Is(err, runtime.ErrConflict):
		code, title = http.StatusConflict, "Changed elsewhere"
		msg = "Another tab changed the same thing at the same time. Reload the page and try again."
	}
	slog.ErrorContext(r.Context(), "session store failed", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Retry-After", "5")
	w.WriteHeader(code)
	errorPage.Execute(w, map[string]string{"Title": title, "Message": msg})
}

func login(w http.ResponseWriter, r *http.Request) {
	addr, err := mail.ParseAddress(r.FormValue("email"))
	if err != nil {
		http.Error(w, "a valid email address, please", http.StatusBadRequest)
		return
	}
	v := VisitFrom(r.Context())
	v.Regenerate() // a new ID on every privilege change: a planted cookie is useless
	v.SetEmail(strings.ToLower(addr.Address))
	v.SetFlash("Welcome!")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func addToCart(w http.ResponseWriter, r *http.Request) {
	v := VisitFrom(r.Context())
	sku := r.FormValue("sku")
	if v.Email() == "" || catalogue[sku] == "" {
		http.Error(w, "log in and pick an item", http.StatusBadRequest)
		return
	}
	// An update, not a read-modify-set: when another request changed the
	// cart meanwhile, this function runs again on the newer cart.
	v.UpdateCart(func(cart *[]Item) {
		if i := slices.IndexFunc(*cart, func(it Item) bool { return it.SKU == sku }); i >= 0 {
			(*cart)[i].Qty++
		} else {
			*cart = append(*cart, Item{SKU: sku, Qty: 1})
		}
	})
	v.SetFlash("Added " + catalogue[sku] + ".")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func logout(w http.ResponseWriter, r *http.Request) {
	v := VisitFrom(r.Context())
	if v.IsNew() { // nothing to end: an anonymous logout stores nothing and sets no cookie
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	v.Destroy()                       // the record is deleted and the old cookie dies...
	v.SetFlash("You are logged out.") // ...and this starts a fresh anonymous session
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// sealedStore reports whether the store keeps sessions in the cookie.
func sealedStore(s runtime.Backend) bool {
	_, ok := s.(*cookiestore.Store)
	return ok
}
