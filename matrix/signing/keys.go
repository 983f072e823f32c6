package signing

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
)

// AlgorithmEd25519 is the only signing algorithm Matrix defines.
const AlgorithmEd25519 = "ed25519"

// KeyID names a signing key: "<algorithm>:<version>", e.g. "ed25519:a_AbCd".
type KeyID string

// NewKeyID builds "ed25519:<version>".
func NewKeyID(version string) KeyID { return KeyID(AlgorithmEd25519 + ":" + version) }

// Algorithm returns the part before the first ':' ("" if there is none).
func (k KeyID) Algorithm() string {
	alg, _, ok := strings.Cut(string(k), ":")
	if !ok {
		return ""
	}
	return alg
}

// Version returns the part after the first ':'.
func (k KeyID) Version() string {
	_, v, _ := strings.Cut(string(k), ":")
	return v
}

// Validate checks that the key ID is "ed25519:" followed by a non-empty version made of
// the characters a-z, A-Z, 0-9 and '_' (the characters the spec allows in key versions).
func (k KeyID) Validate() error {
	if k.Algorithm() != AlgorithmEd25519 {
		return fmt.Errorf("key ID %q: algorithm is not %s", string(k), AlgorithmEd25519)
	}
	v := k.Version()
	if v == "" {
		return fmt.Errorf("key ID %q: empty version", string(k))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("key ID %q: bad character %q in version", string(k), c)
		}
	}
	return nil
}

// SigningKey is one of this server's ed25519 signing keys.
type SigningKey struct {
	ID      KeyID
	Private ed25519.PrivateKey
}

// Public returns the key's public half.
func (k SigningKey) Public() ed25519.PublicKey {
	return k.Private.Public().(ed25519.PublicKey)
}

// Seed returns the 32-byte seed the private key is derived from.
func (k SigningKey) Seed() []byte { return k.Private.Seed() }

// KeyFromSeed builds a signing key from a 32-byte ed25519 seed.
func KeyFromSeed(id KeyID, seed []byte) (SigningKey, error) {
	if len(seed) != ed25519.SeedSize {
		return SigningKey{}, fmt.Errorf("ed25519 seed must be %d bytes, got %d", ed25519.SeedSize, len(seed))
	}
	if err := id.Validate(); err != nil {
		return SigningKey{}, err
	}
	return SigningKey{ID: id, Private: ed25519.NewKeyFromSeed(seed)}, nil
}

// GenerateKey makes a new random ed25519 key. An empty version gets a random
// "a_XXXX" version, as Synapse names its keys. A nil random reader means crypto/rand.
func GenerateKey(version string, random io.Reader) (SigningKey, error) {
	if random == nil {
		random = rand.Reader
	}
	if version == "" {
		var b [3]byte
		if _, err := io.ReadFull(random, b[:]); err != nil {
			return SigningKey{}, err
		}
		// Use only the characters valid in key versions.
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		version = "a_" + string([]byte{alphabet[int(b[0])%len(alphabet)], alphabet[int(b[1])%len(alphabet)],
			alphabet[int(b[2])%len(alphabet)], alphabet[int(b[0]^b[2])%len(alphabet)]})
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(random, seed); err != nil {
		return SigningKey{}, err
	}
	return KeyFromSeed(NewKeyID(version), seed)
}

// errNoKeys is returned for a key file that holds no key.
var errNoKeys = errors.New("signing key file holds no key")
