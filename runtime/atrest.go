package runtime

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
)

// Records sealed at rest (Config.EncryptAtRest). Every record the runtime
// writes to a server-side store, sessions and owner indexes alike, is
// sealed with AES-256-GCM under a key derived from each secret for this
// purpose alone (HKDF-SHA256; never the key that signs cookies), with the
// store key as associated data, so that a record copied under another
// key does not open. The first secret seals; every secret opens, by the
// key id in the record; a record sealed under an older secret is sealed
// under the first at its next write. Reads accept plaintext records too,
// and sealed ones with EncryptAtRest off, so that switching it either way
// is a deploy, not a migration. (The standard library's AES-GCM, not the
// cookie store's XChaCha20: the runtime links no cryptography beyond the
// standard library's. Its 96-bit random nonces bound a secret to 2^32
// sealed writes: rotate secrets well before.)
//
// A sealed record:
//
//	byte 0       atRestV1
//	bytes 1-4    key id
//	bytes 5-16   nonce
//	bytes 17-    ciphertext and tag; the store key as associated data
const (
	atRestV1       = 0xE1 // no plaintext record begins with it (they begin with 0x01)
	atRestIDLen    = 4
	atRestOverhead = 1 + atRestIDLen + 12 + 16
)

// atRest seals and opens records; it wraps the manager's store.
type atRest struct {
	Store
	seal  bool // EncryptAtRest: seal writes (opening is always on)
	first atRestKey
	byID  map[uint32]cipher.AEAD
	log   *slog.Logger
}

type atRestKey struct {
	id   uint32
	aead cipher.AEAD
}

// newAtRest wraps store; seal says whether writes are sealed.
func newAtRest(store Store, secrets [][]byte, seal bool, log *slog.Logger) (*atRest, error) {
	a := &atRest{Store: store, seal: seal, byID: make(map[uint32]cipher.AEAD, len(secrets)), log: log}
	for i, secret := range secrets {
		raw, err := hkdf.Key(sha256.New, secret, nil, "sessiongen record at rest v1", 32+atRestIDLen)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(raw[:32])
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k := atRestKey{id: binary.BigEndian.Uint32(raw[32:]), aead: aead}
		if _, dup := a.byID[k.id]; dup {
			return nil, fmt.Errorf("secret %d gives the same record key id as an earlier one: they are equal, or one should be replaced", i)
		}
		a.byID[k.id] = aead
		if i == 0 {
			a.first = k
		}
	}
	return a, nil
}

// Save implements Store: the record is sealed when EncryptAtRest is on.
func (a *atRest) Save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error) {
	if !a.seal {
		return a.Store.Save(ctx, key, rec, version, expiry)
	}
	buf := mp.Buffers.Get().(*mp.Buffer)
	defer mp.Buffers.Put(buf)
	b := append(buf.B[:0], atRestV1, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[1:], a.first.id)
	b = append(b, make([]byte, 12)...)
	rand.Read(b[1+atRestIDLen:])
	b = a.first.aead.Seal(b, b[1+atRestIDLen:], rec, []byte(key))
	buf.Keep(b)
	return a.Store.Save(ctx, key, b, version, expiry)
}

// Load implements Store: a sealed record is opened; one that does not
// open (tampered, truncated, under an unknown secret, moved to another
// key) is logged and handed on as it is, which no decoder reads: a fresh
// session, never the plaintext path.
func (a *atRest) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	rec, ver, err := a.Store.Load(ctx, key)
	if err != nil || len(rec) == 0 || rec[0] != atRestV1 {
		return rec, ver, err
	}
	plain, err := a.open(key, rec)
	if err != nil {
		a.log.ErrorContext(ctx, "sessiongen: a sealed record does not open; it reads as no session", "key", key, "err", err)
		return rec, ver, nil
	}
	return plain, ver, nil
}

var errSealed = errors.New("sessiongen: the record is sealed (Config.EncryptAtRest) and does not open with these secrets")

// open opens a sealed record stored under key.
func (a *atRest) open(key string, rec []byte) ([]byte, error) {
	if len(rec) < atRestOverhead || rec[0] != atRestV1 {
		return nil, errSealed
	}
	aead, ok := a.byID[binary.BigEndian.Uint32(rec[1:])]
	if !ok {
		return nil, errSealed
	}
	nonce := rec[1+atRestIDLen : 1+atRestIDLen+12]
	plain, err := aead.Open(make([]byte, 0, len(rec)-atRestOverhead), nonce, rec[1+atRestIDLen+12:], []byte(key))
	if err != nil {
		return nil, errSealed
	}
	return plain, nil
}

// opened returns rec opened if it is sealed and opens, else rec.
func (a *atRest) opened(key string, rec []byte) []byte {
	if len(rec) > 0 && rec[0] == atRestV1 {
		if plain, err := a.open(key, rec); err == nil {
			return plain
		}
	}
	return rec
}
