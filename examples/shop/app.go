package main

import (
	"html/template"
	"net/http"
	"net/mail"
	"slices"
	"strings"

	"github.com/sessiongen/sessiongen/runtime"
)

// catalogue is what the shop sells, by SKU.
var catalogue = map[string]string{"tea": "Green tea", "mug": "Mug", "pot": "Teapot"}

// newApp returns the shop's handler, served behind the session middleware.
func newApp(cfg runtime.Config) (http.Handler, *VisitManager, error) {
	sessions, err := NewVisitManager(cfg)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", home)
	mux.HandleFunc("POST /login", login)
	mux.HandleFunc("POST /cart", addToCart)
	mux.HandleFunc("POST /logout", logout)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n")) // never touches the session: no store call, no cookie
	})
	return sessions.Middleware(mux), sessions, nil
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<title>sessiongen shop</title>
{{with .Flash}}<p><b>{{.}}</b></p>{{end}}
{{if .Email}}
<p>Signed in as {{.Email}}.</p>
<h2>Cart</h2>
<ul>{{range .Cart}}<li>{{.Qty}} × {{.SKU}}</li>{{else}}<li>empty</li>{{end}}</ul>
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
{{else}}
<form method=post action=/login><input name=email placeholder="you@example.com"><button>Log in</button></form>
{{end}}
`))

func home(w http.ResponseWriter, r *http.Request) {
	v := VisitFrom(r.Context())
	flash := v.Flash()
	if flash != "" {
		v.SetFlash("") // shown once
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	cart := v.Cart()
	items := 0
	for _, it := range cart {
		items += it.Qty
	}
	page.Execute(w, map[string]any{"Email": v.Email(), "Cart": cart, "Items": items, "Flash": flash, "Catalogue": catalogue})
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
	v.Destroy()                       // the record is deleted and the old cookie dies...
	v.SetFlash("You are logged out.") // ...and this starts a fresh anonymous session
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
