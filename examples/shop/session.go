package main

//go:generate go tool sessiongen

// Item is one line of the cart.
type Item struct {
	SKU string `session:"sku"`
	Qty int    `session:"qty"`
}

// Visit is what the shop remembers about a visitor between requests.
//
//sessiongen:session name=Visit
type visitData struct {
	Email string `session:"email,omitempty,owner"`
	Cart  []Item `session:"cart,omitempty"`
	Flash string `session:"flash,omitempty"`
}
