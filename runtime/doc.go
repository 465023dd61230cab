// Package runtime serves the typed sessions that sessiongen generates.
//
// Generated code wraps it: a generated NewVisitManager validates a Config
// and returns a manager (embedding a *Manager) whose Middleware puts a
// *Visit in every request's context, and VisitFrom gets it back. What the
// generated code itself is made of lives in package runtime/wire, which
// no hand-written code needs.
//
// Per request, the runtime reads the session cookie, "<id>.<signature>",
// and checks it strictly before any store call: a bad, tampered or missing
// cookie is no session, never an error page. The session is loaded from
// the Store on the handler's first use, and saved when the response
// headers are about to be sent: only if it changed, with compare-and-swap,
// merging this request's changed fields onto a record another request
// wrote in between. A store that fails is answered by the error handler
// (503) and never turns into an empty session that overwrites the real one.
//
// A loaded record is checked and indexed, not decoded: a field is decoded
// when the handler first reads or sets it, and a save encodes the fields
// the request decoded or set and copies the others byte for byte.
//
// With a server-side Store, the cookie carries only a 256-bit random ID
// signed with HMAC-SHA256; the data stays in the store under a key derived
// from a hash of the ID. Sessions expire after an idle timeout, enforced by
// the store's expiry, and after an absolute lifetime kept in the record.
//
// Where sessions are kept is Config.Store: NewMemoryStore here, for one
// process; for several, a package beside this one, each over its server's
// client: runtime/memcache, runtime/redis (Redis, Valkey, Cluster),
// runtime/postgres, runtime/sqlite, runtime/mongo. A program links only
// the stores it imports. runtime/cookiestore keeps each session sealed in
// its cookies instead, with no server-side store at all. Package
// runtime/storetest is the contract a Store must meet.
package runtime
