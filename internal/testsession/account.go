package testsession

// Account is a session with an owner, for the tests of per-owner logout:
// a user signed in on several devices.
//
//sessiongen:session name=Account
type accountData struct {
	UserID int64  `session:"uid,owner"`
	Device string `session:"dev"`
}
