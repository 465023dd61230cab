// Package testsession holds a generated session type shaped like the
// benchmark workload (a signed-in visitor with a cart), for the runtime's
// tests and benchmarks.
package testsession

import "time"

//go:generate go tool sessiongen

// CartItem is one line of the cart.
type CartItem struct {
	SKU        string `session:"sku"`
	Qty        int    `session:"qty"`
	PriceCents int64  `session:"price"`
}

// Visit is the benchmark workload's session.
//
//sessiongen:session name=Visit
type visitData struct {
	UserID    int64             `session:"uid,renew"`
	Email     string            `session:"email"`
	Roles     []string          `session:"roles"`
	CSRFToken string            `session:"csrf"`
	Flash     string            `session:"flash,omitempty"`
	Cart      []CartItem        `session:"cart"`
	LastSeen  time.Time         `session:"seen"`
	Prefs     map[string]string `session:"prefs"`
	LoggedIn  bool              `session:"in"`
	Counter   int               `session:"n"`
}

// OwnedVisit is Visit with an owner field (the user ID), for the
// benchmarks that price per-owner logout against Visit in the same run.
//
//sessiongen:session name=OwnedVisit
type ownedVisitData struct {
	UserID    int64             `session:"uid,renew,owner"`
	Email     string            `session:"email"`
	Roles     []string          `session:"roles"`
	CSRFToken string            `session:"csrf"`
	Flash     string            `session:"flash,omitempty"`
	Cart      []CartItem        `session:"cart"`
	LastSeen  time.Time         `session:"seen"`
	Prefs     map[string]string `session:"prefs"`
	LoggedIn  bool              `session:"in"`
	Counter   int               `session:"n"`
}
