// Package v2 is release 2 of the same session, deployed while release 1
// still serves requests from the same store.
package v2

//go:generate go tool sessiongen

// Profile is release 2.
//
//sessiongen:session name=Profile
type profileData struct {
	Name     string `session:"name"`
	Age      int    `session:"age"`
	Nickname string `session:"nick"`  // was Nick: the key keeps the data
	Score    int    `session:"score"` // was a string: old values read as 0
	Email    string `session:"email"` // new: zero in old records
}
