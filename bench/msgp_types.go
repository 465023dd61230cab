package bench

import "time"

// CartItem is one line of the cart.
type CartItem struct {
	SKU        string
	Qty        int
	PriceCents int64
}

// Workload is the benchmark's session value, for the codecs that take a
// plain struct (gob, json, msgpack reflection, msgp).
type Workload struct {
	UserID    int64
	Email     string
	Roles     []string
	CSRFToken string
	Flash     string
	Cart      []CartItem
	LastSeen  time.Time
	Prefs     map[string]string
	LoggedIn  bool
}
