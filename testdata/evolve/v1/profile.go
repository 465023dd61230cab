// Package v1 is release 1 of an application's session.
package v1

//go:generate go tool sessiongen

// Profile is release 1.
//
//sessiongen:session name=Profile
type profileData struct {
	Name   string `session:"name"`
	Age    int    `session:"age"`
	Legacy string `session:"legacy"` // removed in release 2
	Nick   string `session:"nick"`   // renamed in release 2, key pinned
	Score  string `session:"score"`  // an int in release 2
}
