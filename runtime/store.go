package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors a Store returns. Wrap them with %w; the runtime tests with errors.Is.
var (
	// ErrNotFound means there is no record under the key, or it expired.
	ErrNotFound = errors.New("sessiongen: session record not found")
	// ErrConflict means a Save lost a race: the record changed since the
	// version the caller loaded, or (version 0) a record already exists.
	ErrConflict = errors.New("sessiongen: session record changed concurrently")
	// ErrUnavailable means the store could not be reached or did not
	// answer in time. The runtime answers such requests with the error
	// handler (503 by default) and never replaces the session.
	ErrUnavailable = errors.New("sessiongen: session store unavailable")
	// ErrOutcomeUnknown means a write was sent and no answer came (a
	// timeout, a connection lost mid-command): the store may or may not
	// have applied it. It matches ErrUnavailable too. The runtime then
	// reads the record back to find out, and passes the error on only
	// when the store still does not answer. A store returns ErrUnavailable
	// alone only when it knows the write was not applied (it could not
	// connect).
	ErrOutcomeUnknown = fmt.Errorf("%w, and the write may or may not have been applied", ErrUnavailable)
	// ErrTooLarge means a record is larger than the store accepts. The
	// record already stored, if any, is left as it was.
	ErrTooLarge = errors.New("sessiongen: session record too large")
)

// FieldConflictError reports that a field tagged conflict=error was
// changed by two overlapping requests. It matches ErrConflict with
// errors.Is. The handler can Reload and try again.
type FieldConflictError struct {
	Key string // the field's key
}

// Error names the field.
func (e *FieldConflictError) Error() string {
	return fmt.Sprintf("sessiongen: field %q was changed by another request since this one loaded the session", e.Key)
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *FieldConflictError) Unwrap() error { return ErrConflict }

// Store keeps session records. The runtime hands it opaque bytes under
// keys derived from a hash of the session ID, so a dump of the store holds
// no usable cookie. Implementations must be safe for concurrent use.
//
// Versions make concurrent writes safe: Load returns the record's version,
// and Save replaces a record only if that version is still current (a
// compare-and-swap). A version is a non-zero number that changes on every
// write; 0 means "no record".
type Store interface {
	// Load returns the record under key and its version. A missing or
	// expired record is ErrNotFound; any other error means the store could
	// not answer. The caller must not modify the returned slice.
	Load(ctx context.Context, key string) (rec []byte, version uint64, err error)

	// Save writes rec under key, to expire at expiry. With version 0 it
	// creates the record and returns ErrConflict if one exists. Otherwise
	// it replaces the record only if its version is still version, and
	// returns ErrConflict if another write came first or ErrNotFound if
	// the record is gone. Save keeps no reference to rec. It returns the
	// version the record has now, which Load would return, or 0 when the
	// store cannot tell (the runtime then loads the record again before
	// it writes it a second time).
	Save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error)

	// Touch moves the expiry of the record under key without rewriting it
	// and without changing its version. A missing record is ErrNotFound.
	Touch(ctx context.Context, key string, expiry time.Time) error

	// Delete removes the record under key. Deleting a missing record is
	// not an error.
	Delete(ctx context.Context, key string) error
}
