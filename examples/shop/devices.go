package main

import (
	"errors"
	"html/template"
	"net/http"
)

var devicesPage = template.Must(template.New("devices").Parse(`<!doctype html>
<title>Your sessions</title>` + style + `
<h1>Your sessions</h1>
{{if .Unsupported}}<p class=error>{{.Unsupported}}</p>
{{else}}<p>Where <b>{{.Email}}</b> is signed in, on every server of the shop that shares its store:</p>
{{if .Limit}}<p>At most {{.Limit}} at once: signing in on another device {{if .Refuse}}is refused{{else}}signs the oldest out{{end}}.</p>{{end}}
<ul>{{range .List}}<li>signed in {{.Issued.Format "2006-01-02 15:04:05"}}, last seen {{.LastSeen.Format "2006-01-02 15:04:05"}}, last change {{.LastWrite.Format "2006-01-02 15:04:05"}}, session begun {{.Created.Format "2006-01-02 15:04:05"}}{{if .Current}} <b>(this browser)</b>{{end}}</li>{{end}}</ul>
<form method=post action=/sessions/others><button>Log out everywhere else</button></form>
{{end}}<p><a href="/">Back to the shop</a></p>
`))

// devices lists where the visitor is signed in: the sessions whose Email
// (the owner field) is theirs, and the limit on them (0: the default).
func devices(sessions *VisitManager, limit int, refuse bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		email := VisitFrom(r.Context()).Email()
		if email == "" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		data := map[string]any{"Email": email, "Limit": limit, "Refuse": refuse}
		list, err := sessions.Sessions(r.Context(), email)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			data["Unsupported"] = "This shop keeps sessions in your browser's cookies (-store cookie:): the server cannot list them or end them. Use a server-side store for this page."
		case err != nil:
			storeError(w, r, err)
			return
		}
		for i := range list {
			o := &list[i]
			o.Created, o.Issued, o.LastWrite, o.LastSeen = o.Created.Local(), o.Issued.Local(), o.LastWrite.Local(), o.LastSeen.Local()
		}
		data["List"] = list
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		devicesPage.Execute(w, data)
	}
}

// endOthers ends every session of the visitor but this one.
func endOthers(sessions *VisitManager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := VisitFrom(r.Context())
		list, err := sessions.Sessions(r.Context(), v.Email())
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			storeError(w, r, err)
			return
		}
		ended := 0
		for _, o := range list {
			if o.Current {
				continue
			}
			if err := o.End(r.Context()); err != nil {
				storeError(w, r, err)
				return
			}
			ended++
		}
		v.SetFlash(map[bool]string{true: "Logged out everywhere else.", false: "You were signed in nowhere else."}[ended > 0])
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}
