package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
)

// maxSaveAttempts bounds the compare-and-swap attempts of one save; the
// first immediateRetries of them reload and retry without a pause.
const (
	maxSaveAttempts  = 16
	immediateRetries = 4
)

// flush brings the store up to date, as planFlush decides: it writes
// changed data, deletes records left by Destroy or Regenerate, and moves
// the idle deadline. With keep, the request goes on: a copy of what was
// written stays the baseline for later changes. Call with the lock held.
func (s *session) flush(ctx context.Context, keep bool) error {
	if s.base.err != nil {
		return s.base.err
	}
	if !s.state.has(loaded) {
		return nil
	}
	now := s.m.now()
	s.detectInPlace()
	if renewDue(&s.base, now, s.m.renewAfter) {
		s.renew(ctx, now)
	}
	p := planFlush(&s.base, &s.chg)
	if p.write {
		if err := s.write(ctx, now, keep); err != nil {
			return err
		}
	}
	if p.drop != "" {
		var err error
		if s.chg.ended.kind == 0 { // Regenerate's old record, or an unreadable one: no event
			if err = s.m.carrier.Delete(ctx, &s.trip, p.drop); errors.Is(err, ErrNotFound) {
				err = nil
			}
		} else if _, err = s.m.endSession(ctx, &s.trip, p.drop, s.chg.dropVer, s.chg.ended, s.trip.Req, true); errors.Is(err, errUnindex) {
			s.m.log.WarnContext(ctx, "sessiongen: could not remove an ended session from its owner's index; it goes at its deadline", "type", s.m.schema.Name, "err", err)
			err = nil
		}
		if err != nil {
			return fmt.Errorf("sessiongen: delete old session: %w", err)
		}
		s.m.touches.forget(keyHash(p.drop))
		s.chg.drop, s.chg.dropVer, s.chg.ended = "", 0, ending{}
	}
	if p.touch == touchNow || p.touch == touchIfDue && s.m.touches.due(s.id.hash, now, s.m.idle) {
		if s.m.keepsOwners() {
			s.seen(ctx, now)
		} else {
			s.touch(ctx, now)
		}
	}
	return nil
}

// seen moves the idle deadline of an owned session with a write of its
// record, instead of a touch, stamping when it was last used
// (OwnedSession.LastSeen): at most once per touch interval, as a touch.
func (s *session) seen(ctx context.Context, now time.Time) {
	s.chg.seen = true
	err := s.write(ctx, now, false)
	s.chg.seen, s.chg.touch = false, false
	if err != nil {
		// The session loaded and nothing is lost: only its idle deadline
		// did not move. Not worth failing the request for.
		s.m.log.WarnContext(ctx, "sessiongen: could not move the session's idle deadline", "type", s.m.schema.Name, "session", s.m.logID(s.id.key), "err", err)
	}
}

// touch moves the idle deadline of the unchanged record.
func (s *session) touch(ctx context.Context, now time.Time) {
	err := s.m.carrier.Touch(ctx, &s.trip, s.id.key, s.m.expiry(s.base.hdr.created, now))
	switch {
	case err == nil:
		s.m.touches.mark(s.id.hash, now)
		s.extended()
	case errors.Is(err, ErrNotFound):
		s.gone()
	default:
		// The session loaded and nothing is lost: only its idle deadline
		// did not move. Not worth failing the request for.
		s.m.log.WarnContext(ctx, "sessiongen: could not move the session's idle deadline", "type", s.m.schema.Name, "session", s.m.logID(s.id.key), "err", err)
	}
	s.chg.touch = false
}

// extended notes that the session's expiry moved: a persistent cookie is
// sent again, with its new Max-Age.
func (s *session) extended() {
	if s.persistent() {
		s.trip.Resend = true
	}
}

// write saves the record. A new record is created with version 0, which
// never overwrites another; an existing one is replaced by compare-and-swap
// and, when another request wrote first, the fields this request changed
// are merged onto the newer record and the write retried.
//
// Saves of one session within one process take turns (saveTurns), and a
// save that lost a race waits for its retry without its turn.
func (s *session) write(ctx context.Context, now time.Time, keep bool) (err error) {
	if s.id.id == "" {
		s.id.set(newID())
	}
	ctx, o := s.m.observe(ctx, opSave)
	defer func() {
		if err == nil && s.id.id == "" {
			o.op.Outcome = "not_found" // the record vanished under the save: the session is over (gone)
		}
		s.m.observed(ctx, &o, err)
	}()
	var tn *turn
	stale := false // another request of this process wrote the session while this one waited
	turnKey, turnHash := s.id.key, s.id.hash
	if s.m.merge {
		tn, stale = s.m.turns.take(turnKey, turnHash)
		defer func() { s.m.turns.give(turnKey, turnHash, tn) }()
	}
	if s.base.hdr.created == 0 {
		s.base.hdr.created = now.Unix()
	}
	if s.base.hdr.issued == 0 {
		s.base.hdr.issued = now.Unix()
		if s.m.revoc != nil && s.m.schema.Owner != nil {
			s.base.fields.set(issuedKey, mp.AppendInt(s.base.fields.issued[:0], now.UnixMilli()))
		}
	}
	// An owned session is listed under its owner before it is stored
	// under a key the owner's index does not hold: a new owner, a new ID.
	owned := s.m.keepsOwners() && (s.chg.dirty.has(s.m.schema.OwnerField) || s.chg.drop != "")
	if owned {
		if err := s.indexOwner(ctx, s.id.key, s.chg.drop, now); err != nil {
			return err
		}
	}
	if s.m.keepsOwners() {
		s.base.fields.stamp(now, !s.chg.seen)
	}
	h := s.header()
	rec, put, err := s.base.appendRecord(&s.m.schema, s.data, h)
	if err != nil {
		return err
	}
	defer put()
	ver, base, merged, unsure := s.base.ver, s.base.rec, false, false
	// written is the version the store says the record now has; 0 when
	// it cannot tell.
	var written uint64
	created := !s.base.stored && !s.chg.rewrite // a new session's first save
	// Reload first when the version is unknown (written earlier in this
	// request), or known to be gone: a compare-and-swap at it could only
	// fail.
	refetch := s.base.stored && (ver == 0 || stale)
	for attempt := 1; ; attempt++ {
		if refetch {
			// What the request that held the turn before this one wrote,
			// if it said its version: no load. Else a load, which follows
			// the forward a concurrent renewal left: this request's
			// changes follow it to the new ID, never over it (which would
			// fork the session in two).
			fresh, fver, handed := tn.handed(s.id.key)
			err = nil
			if attempt > 1 || !handed {
				var id, key string
				id, key, fresh, fver, err = loadFollowing(ctx, s.m.carrier, &s.trip, s.id.id, now, 0)
				if key != s.id.key {
					s.id.setKeyed(id, key)
				}
			}
			switch {
			case errors.Is(err, errRetired):
				// A concurrent Regenerate moved the session to an ID this
				// request must not learn: its change is dropped, and the
				// cookie the browser holds is left alone.
				s.gone()
				s.trip.CookieID = ""
				return nil
			case errors.Is(err, ErrNotFound):
				s.gone()
				return nil
			case err != nil:
				return fmt.Errorf("sessiongen: reload session to merge: %w", err)
			}
			if rec, h, err = s.m.mergeOnto(ctx, &s.chg, &s.base, s.data, h, rec, base, fresh, s.id.key); err != nil {
				return err
			}
			s.base.hdr = h
			ver, base, merged = fver, fresh, true
			o.op.Merged = attempt > 1 || stale
		}
		if len(rec) > maxRecordSize { // the largest record any load decodes: never store one it would refuse
			return s.m.saveError(fmt.Errorf("the record is %d bytes, over the %d bytes a session may hold: %w", len(rec), maxRecordSize, ErrTooLarge), rec)
		}
		o.op.Attempts, o.op.Bytes = attempt, len(rec)
		var err error
		written, err = s.m.saver.Save(ctx, &s.trip, s.id.key, rec, ver, s.m.expiry(h.created, now))
		if errors.Is(err, ErrOutcomeUnknown) || unsure && ver == 0 && errors.Is(err, ErrConflict) {
			// A create that finds a record after an unanswered create
			// may have found its own.
			unsure = true
			written, err = 0, s.readBack(ctx, rec, ver, err)
		}
		switch {
		case err == nil:
		case err == errNotApplied && attempt < maxSaveAttempts:
			continue // the create did not happen: create again, under the same ID
		case errors.Is(err, ErrNotFound) && ver != 0:
			s.gone() // destroyed or regenerated by a concurrent request: a logout is never undone
			return nil
		case errors.Is(err, ErrConflict) && ver == 0 && !s.base.stored:
			if owned && s.evicted(ctx) {
				// Over the owner's limit, another request evicted this
				// session before it was stored (Manager.end with evict).
				s.gone()
				return nil
			}
			s.id.set(newID()) // the new ID was taken (never in practice): pick another
			if owned {
				if err := s.indexOwner(ctx, s.id.key, s.chg.drop, now); err != nil {
					return err
				}
			}
			continue
		case errors.Is(err, ErrConflict) && attempt < maxSaveAttempts && s.m.merge:
			s.m.stats.conflicts.Add(1)
			if refetch && attempt > immediateRetries {
				// We keep losing to writes made after our reload: another
				// process is saving this session too. Back off without
				// the turn, with full jitter, growing: 0–1 ms, 0–2 ms, …
				// capped at 0–32 ms. (The first retries reload at once: the
				// other process's next write is a whole request away, and a
				// sleep would only hand it the record again.)
				s.m.turns.give(turnKey, turnHash, tn)
				time.Sleep(jitter(time.Millisecond << min(attempt-immediateRetries-1, 5)))
				tn, _ = s.m.turns.take(turnKey, turnHash)
			}
			refetch = true
			continue
		default:
			return s.m.saveError(err, rec)
		}
		break
	}
	kind := EventKind(0)
	if created {
		kind = EventCreated
	}
	if s.chg.rewrite && s.chg.drop != "" {
		if ended, err := s.retire(ctx, now, rec); ended || err != nil {
			return err
		}
		kind = EventRegenerated
		written = 0 // retire may have carried another request's change over
	}
	if kind != 0 && s.m.onEvent != nil {
		s.m.emit(ctx, kind, s.id.key, s.owner(), s.trip.Req)
	}
	if tn != nil {
		tn.wrote(s.id.key, rec, written) // the requests waiting for the turn merge onto it
	}
	// A second save in this request (an explicit Save, then the end of
	// the request) writes at the version this one left, with no reload.
	s.base.hdr, s.base.stored, s.base.ver, s.base.rec = h, true, written, nil
	s.chg.saved()
	s.extended()
	s.m.touches.mark(s.id.hash, now)
	switch {
	case merged:
		// Let the rest of the request see what the other writers stored:
		// every field is decoded again, from the merged record.
		s.base.rec = bytes.Clone(rec)
		if _, err := s.base.open(s.base.rec, s.m.schema.Keys, s.m.index); err != nil {
			return fmt.Errorf("sessiongen: read merged session: %w", err)
		}
	case keep:
		// What was written is the baseline for later changes; the fields
		// decoded so far stay decoded (the handler may hold them).
		s.base.rec = bytes.Clone(rec)
		if _, err := s.base.fields.index(s.base.rec, s.m.schema.Keys, s.m.index); err != nil {
			return fmt.Errorf("sessiongen: read saved session: %w", err)
		}
	}
	return nil
}

// retire ends the record under the old ID of a regenerated session
// (chg.drop), now that the session is stored under its new ID (rec), by
// compare-and-swap, so that no concurrent request undoes the ID change: a
// logout that came first ends the new record too (ended), and a write
// under the old ID that came first is merged into the new record. The
// retired record expires with the renewal grace; the flush deletes it.
func (s *session) retire(ctx context.Context, now time.Time, rec []byte) (ended bool, err error) {
	old, ver := s.chg.drop, s.chg.dropVer
	for attempt := 1; attempt <= maxSaveAttempts; attempt++ {
		var fresh []byte
		if ver == 0 { // written earlier in this request, or moved on since: read the version
			if fresh, ver, err = s.m.carrier.Load(ctx, &s.trip, old); err != nil && !errors.Is(err, ErrNotFound) {
				return false, fmt.Errorf("sessiongen: load the session's old record: %w", err)
			}
			if err != nil || retired(fresh) {
				return s.retireEnded(ctx)
			}
			if attempt > 1 { // another request wrote the old record: carry its changes over
				if rec, err = s.carryOver(ctx, now, rec, fresh); err != nil {
					return false, err
				}
			}
		}
		err = s.m.carrier.Retire(ctx, &s.trip, old, ver, now.Add(s.m.renewGrace))
		switch {
		case err == nil:
			return false, nil
		case errors.Is(err, ErrNotFound):
			return s.retireEnded(ctx)
		case errors.Is(err, ErrConflict):
			ver = 0
			continue
		}
		return false, fmt.Errorf("sessiongen: retire the session's old ID: %w", err)
	}
	return false, fmt.Errorf("sessiongen: retire the session's old ID: %w", ErrConflict)
}

// retireEnded undoes a Regenerate whose old record a concurrent request
// ended (a logout): the record under the new ID goes too.
func (s *session) retireEnded(ctx context.Context) (bool, error) {
	if err := s.m.carrier.Delete(ctx, &s.trip, s.id.key); err != nil && !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("sessiongen: delete the regenerated session: %w", err)
	}
	s.gone()
	return true, nil
}

// carryOver merges this request's changes onto fresh, the old record as
// another request wrote it after this one loaded it, and writes the result
// under the new ID, which this request created: it returns what it wrote.
func (s *session) carryOver(ctx context.Context, now time.Time, rec, fresh []byte) ([]byte, error) {
	merged, h, err := s.m.mergeOnto(ctx, &s.chg, &s.base, s.data, s.header(), rec, s.base.rec, fresh, s.chg.drop)
	if err != nil {
		return nil, err
	}
	h.issued = now.Unix() // the new ID's
	merged = withHeader(merged, h)
	_, ver, err := s.m.carrier.Load(ctx, &s.trip, s.id.key)
	if err == nil {
		_, err = s.m.carrier.Save(ctx, &s.trip, s.id.key, merged, ver, s.m.expiry(h.created, now))
	}
	if err != nil {
		return nil, fmt.Errorf("sessiongen: carry changes over to the new ID: %w", err)
	}
	return merged, nil
}

// saveError wraps the error of a save that failed; one that was too
// large names the record's largest fields.
func (m *Manager) saveError(err error, rec []byte) error {
	if errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("sessiongen: save session: %w; largest fields: %s", err, largestFields(rec))
	}
	return fmt.Errorf("sessiongen: save session: %w", err)
}

// errNotApplied is readBack's answer for a create that did not happen.
var errNotApplied = errors.New("sessiongen: the record was not created")

// readBack finds out whether a write whose outcome is unknown (sent, never
// answered: unknown is the store's error) took effect, by reading the
// record back once the store answers. It returns nil when the store holds
// rec (the write happened), errNotApplied when a create (version 0) did
// not happen, ErrNotFound when a compare-and-swap found its record gone,
// ErrConflict when another record stands (merge onto it and retry: a
// compare-and-swap that was still in flight then fails), and unknown
// when the store still does not answer.
func (s *session) readBack(ctx context.Context, rec []byte, ver uint64, unknown error) error {
	fresh, _, err := s.m.carrier.Load(ctx, &s.trip, s.id.key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return unknown // still no answer
	}
	s.m.stats.settled.Add(1)
	switch {
	case err == nil && bytes.Equal(fresh, rec):
		return nil
	case err == nil:
		return ErrConflict
	case ver == 0:
		return errNotApplied
	}
	return err
}

// renew gives the session a new ID because the current one is older than
// Config.RenewAfter (OWASP's renewal timeout). The record, with this
// request's changes, is written under the new ID, and the old record is
// replaced, by compare-and-swap, with a forward that lets requests still
// carrying the old cookie follow for Config.RenewGrace. If another request
// wrote the old record meanwhile, the renewal is abandoned, to be tried by
// a later request: nothing is lost. Call with the lock held.
func (s *session) renew(ctx context.Context, now time.Time) {
	old := s.id
	var next ident
	next.set(newID())
	h := s.header()
	h.issued = now.Unix()
	rec, put, err := s.base.appendRecord(&s.m.schema, s.data, h)
	if err != nil {
		return
	}
	defer put()
	if s.m.keepsOwners() {
		if err := s.indexOwner(ctx, next.key, old.key, now); err != nil {
			return
		}
	}
	written, err := s.m.carrier.Save(ctx, &s.trip, next.key, rec, 0, s.m.expiry(h.created, now))
	if err != nil {
		return
	}
	if _, err := s.m.carrier.Save(ctx, &s.trip, old.key, forwardRecord(old.id, next.id, now), s.base.ver, now.Add(s.m.renewGrace)); err != nil {
		_ = s.m.carrier.Delete(ctx, &s.trip, next.key)
		return
	}
	s.id = next
	s.base.hdr, s.base.ver, s.base.rec = h, written, nil
	s.chg.saved()
	s.extended()
	s.m.touches.mark(s.id.hash, now)
	if s.m.onEvent != nil {
		s.m.emit(ctx, EventRenewed, next.key, s.owner(), s.trip.Req)
	}
}

// gone handles a record that disappeared under us: the session is over.
func (s *session) gone() { s.empty() }
