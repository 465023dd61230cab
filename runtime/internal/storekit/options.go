package storekit

import (
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

// The options every store shares (WithTimeout, WithMaxRecordSize,
// WithPruneInterval), checked here once. Each store declares its own
// Option functions, with its own defaults in their documentation.

// CheckTimeout is the error for a timeout that is not positive, or nil.
func CheckTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("timeout %v: must be positive", d)
	}
	return nil
}

// CheckMaxRecord is the error for a record size limit outside [1, max],
// or nil.
func CheckMaxRecord(n, max int) error {
	if n < 1 || n > max {
		return fmt.Errorf("max record size %d: must be between 1 and %d", n, max)
	}
	return nil
}

// CheckPrune is the error for a negative prune interval, or nil.
func CheckPrune(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("prune interval %v: must be positive, or 0 for none", d)
	}
	return nil
}

// Fits returns runtime.ErrTooLarge for a record over limit bytes, before
// anything is sent, naming the store (its package path) and the option
// that sets the limit; nil for a record that fits.
func Fits(store string, rec []byte, limit int) error {
	if len(rec) > limit {
		return fmt.Errorf("%s: record of %d bytes is over the %d-byte limit (WithMaxRecordSize): %w", store, len(rec), limit, runtime.ErrTooLarge)
	}
	return nil
}
