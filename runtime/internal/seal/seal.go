// Package seal seals a session into cookie values and opens them:
// authenticated encryption (XChaCha20-Poly1305, random 192-bit nonces)
// under keys derived with HKDF-SHA256 from the manager's secrets, bound
// to this purpose and to the cookie's name, so that the key that signs
// session IDs is never the key that encrypts, and a value sealed for one
// cookie does not open as another. The first secret seals, all open; a
// key id in the value picks the key without trial decryption.
//
// A sealed value is base64url (no padding) of
//
//	byte 0      format version (1)
//	bytes 1-4   key id
//	bytes 5-28  nonce
//	bytes 29-   ciphertext and tag, the cookie's name as associated data
//
// Values longer than a cookie holds are split over chunks (Split) and put
// back together, in order, before opening: a missing, reordered or
// repeated chunk does not authenticate.
package seal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	version  = 1
	idLen    = 4
	overhead = 1 + idLen + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
)

var b64 = base64.RawURLEncoding

// ErrOpen means a value did not open: tampered, truncated, sealed under a
// key or for a cookie this Sealer does not have, or not a sealed value at
// all. Which of these is not said: to the caller it is no session.
var ErrOpen = errors.New("seal: the value does not open")

// A Sealer seals and opens the values of one cookie.
type Sealer struct {
	name   string
	sealer key
	byID   map[uint32]cipher.AEAD
	max    int // the longest value Open accepts, in bytes of base64
}

type key struct {
	id   uint32
	aead cipher.AEAD
}

// New returns a Sealer for the cookie name with keys derived from
// secrets, the first of which seals. maxLen bounds the values Open
// accepts (the cookie's chunks together), before anything is decoded.
func New(name string, secrets [][]byte, maxLen int) (*Sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("seal: no secret")
	}
	s := &Sealer{name: name, byID: make(map[uint32]cipher.AEAD, len(secrets)), max: maxLen}
	for i, secret := range secrets {
		k, err := derive(name, secret)
		if err != nil {
			return nil, err
		}
		if _, dup := s.byID[k.id]; dup {
			return nil, fmt.Errorf("seal: secrets %d and an earlier one give the same key id: they are equal, or one of them should be replaced", i)
		}
		s.byID[k.id] = k.aead
		if i == 0 {
			s.sealer = k
		}
	}
	return s, nil
}

// derive makes the key and key id of one secret for the cookie name.
func derive(name string, secret []byte) (key, error) {
	raw, err := hkdf.Key(sha256.New, secret, nil, "sessiongen cookie seal v1\x00"+name, chacha20poly1305.KeySize+idLen)
	if err != nil {
		return key{}, fmt.Errorf("seal: derive key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(raw[:chacha20poly1305.KeySize])
	if err != nil {
		return key{}, err
	}
	return key{id: binary.BigEndian.Uint32(raw[chacha20poly1305.KeySize:]), aead: aead}, nil
}

// Seal encrypts plain under the first secret's key.
func (s *Sealer) Seal(plain []byte) string {
	b := make([]byte, 1+idLen+chacha20poly1305.NonceSizeX, overhead+len(plain))
	b[0] = version
	binary.BigEndian.PutUint32(b[1:], s.sealer.id)
	nonce := b[1+idLen:]
	rand.Read(nonce)
	b = s.sealer.aead.Seal(b, nonce, plain, s.ad())
	return b64.EncodeToString(b)
}

// Open decrypts a value Seal made with any of the secrets. Anything else
// is ErrOpen; nothing larger than the limit New was given is decoded.
func (s *Sealer) Open(value string) ([]byte, error) {
	if len(value) > s.max || len(value) < b64.EncodedLen(overhead) {
		return nil, ErrOpen
	}
	b, err := b64.DecodeString(value)
	// The length again: the decoder skips '\r' and '\n', so a long value
	// can decode to nothing.
	if err != nil || len(b) < overhead || b[0] != version {
		return nil, ErrOpen
	}
	aead, ok := s.byID[binary.BigEndian.Uint32(b[1:])]
	if !ok {
		return nil, ErrOpen
	}
	nonce, sealed := b[1+idLen:1+idLen+chacha20poly1305.NonceSizeX], b[1+idLen+chacha20poly1305.NonceSizeX:]
	plain, err := aead.Open(sealed[:0], nonce, sealed, s.ad())
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// ad is the associated data: the purpose and the cookie's name.
func (s *Sealer) ad() []byte { return []byte("sessiongen seal v1\x00" + s.name) }

// SealedLen is the length of the value that sealing n bytes makes.
func SealedLen(n int) int { return b64.EncodedLen(overhead + n) }

// A TooLargeError says that a sealed value needs more chunks than allowed.
type TooLargeError struct {
	Size  int // bytes of the sealed value
	Limit int // bytes the allowed chunks hold
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("seal: the sealed session is %d bytes, over the %d bytes its cookies can hold", e.Size, e.Limit)
}

// Split cuts value into chunks of at most size bytes, at most max of them.
func Split(value string, size, max int) ([]string, error) {
	if len(value) > size*max {
		return nil, &TooLargeError{Size: len(value), Limit: size * max}
	}
	var out []string
	for len(value) > size {
		out = append(out, value[:size])
		value = value[size:]
	}
	return append(out, value), nil
}
