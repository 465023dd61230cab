package memcache

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// With replicas, each copy of a record carries its own version, since
// memcached's CAS values differ from server to server. The item's flags
// mark the envelope, so a store with one replica reads records written
// with several, and the other way round.
//
//	version  8 bytes, big-endian: the store's version of the record
//	expiry   8 bytes, big-endian unix seconds: for copying it to a replica
//	kind     1 byte: kindRecord, or kindTombstone (no record follows)
//	record   the rest
const (
	flagEnvelope  = 0x5347 // "SG"
	envelopeLen   = 17
	kindRecord    = 0
	kindTombstone = 1
)

// copyOf is one replica's copy of a record, as read.
type copyOf struct {
	version   uint64
	expiry    int64 // unix seconds; 0 when unknown (a record written without replicas)
	tombstone bool
	rec       []byte
	cas       uint64 // memcached's CAS value on that server
}

// seal returns rec in an envelope.
func seal(version uint64, expiry time.Time, kind byte, rec []byte) []byte {
	b := make([]byte, envelopeLen, envelopeLen+len(rec))
	binary.BigEndian.PutUint64(b, version)
	binary.BigEndian.PutUint64(b[8:], uint64(expiry.Unix()))
	b[16] = kind
	return append(b, rec...)
}

// open reads an item's value. An item without the envelope's flag was
// written without replicas: it reads as version 1, older than any
// enveloped write. ok is false for an envelope too short to be one,
// which reads as no copy.
func open(flags uint32, value []byte, cas uint64) (c copyOf, ok bool) {
	if flags != flagEnvelope {
		return copyOf{version: 1, rec: value, cas: cas}, true
	}
	if len(value) < envelopeLen || value[16] > kindTombstone || value[0]&0x80 != 0 {
		return copyOf{}, false
	}
	return copyOf{
		version:   binary.BigEndian.Uint64(value),
		expiry:    int64(binary.BigEndian.Uint64(value[8:])),
		tombstone: value[16] == kindTombstone,
		rec:       value[envelopeLen:],
		cas:       cas,
	}, true
}

// nextVersion orders writes: the high 39 bits count writes, the low 24
// are random, so two writers racing from one version make distinct
// versions, and every replica agrees which is newer. It stays below 2^63.
func nextVersion(loaded uint64) uint64 {
	var b [4]byte
	rand.Read(b[1:])
	return ((loaded>>24)+1)<<24 | uint64(binary.BigEndian.Uint32(b[:]))
}
