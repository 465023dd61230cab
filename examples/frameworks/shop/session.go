// Package shop is the session the framework examples share.
package shop

//go:generate go tool sessiongen

// Visit is what the examples remember about a visitor.
//
//sessiongen:session name=Visit
type visitData struct {
	Email string `session:"email,omitempty"`
	Views int    `session:"views"`
}
