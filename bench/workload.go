// Package bench measures sessiongen against its peers on one workload (a
// signed-in visitor with a cart: read, written, anonymous, logging in), in
// one run: alexedwards/scs (memstore, gob),
// gorilla/sessions (CookieStore and FilesystemStore), and for the codec
// encoding/gob, encoding/json, vmihailenco/msgpack reflection and
// tinylib/msgp generated code. It is a module of its own so that the main
// module never depends on a peer. Run scripts/bench.sh.
package bench

//go:generate go tool sessiongen
//go:generate go tool msgp -file msgp_types.go -o msgp_types_gen.go -tests=false

import "time"

// Visit is the workload as a sessiongen session.
//
//sessiongen:session name=Visit
type visitData struct {
	UserID    int64             `session:"uid"`
	Email     string            `session:"email"`
	Roles     []string          `session:"roles"`
	CSRFToken string            `session:"csrf"`
	Flash     string            `session:"flash,omitempty"`
	Cart      []CartItem        `session:"cart"`
	LastSeen  time.Time         `session:"seen"`
	Prefs     map[string]string `session:"prefs"`
	LoggedIn  bool              `session:"in"`
}
