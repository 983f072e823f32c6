package devicetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/matrix/signing"
)

// CrossSigning is a user's three cross-signing keys, as a client makes them.
type CrossSigning struct {
	t                                testing.TB
	UserID                           string
	Master, SelfSigning, UserSigning ed25519.PrivateKey
}

// NewCrossSigning makes fresh cross-signing keys for userID.
func NewCrossSigning(t testing.TB, userID string) *CrossSigning {
	gen := func() ed25519.PrivateKey {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return priv
	}
	return &CrossSigning{t: t, UserID: userID, Master: gen(), SelfSigning: gen(), UserSigning: gen()}
}

// Pub is a key's public half, unpadded base64: also its key ID after "ed25519:".
func Pub(priv ed25519.PrivateKey) string { return B64(priv.Public().(ed25519.PublicKey)) }

// KeyObject is the cross-signing key object of priv with usage, signed by signer (the
// master key for the self-signing and user-signing keys; nil for none).
func (c *CrossSigning) KeyObject(usage string, priv, signer ed25519.PrivateKey) json.RawMessage {
	obj := map[string]any{"user_id": c.UserID, "usage": []string{usage},
		"keys": map[string]string{"ed25519:" + Pub(priv): Pub(priv)}}
	raw, err := json.Marshal(obj)
	if err != nil {
		c.t.Fatal(err)
	}
	if signer == nil {
		return raw
	}
	return c.SignWith(signer, raw)
}

// MasterKey is the master key object (unsigned).
func (c *CrossSigning) MasterKey() json.RawMessage { return c.KeyObject("master", c.Master, nil) }

// SelfSigningKey is the self-signing key object signed by the master key.
func (c *CrossSigning) SelfSigningKey() json.RawMessage {
	return c.KeyObject("self_signing", c.SelfSigning, c.Master)
}

// UserSigningKey is the user-signing key object signed by the master key.
func (c *CrossSigning) UserSigningKey() json.RawMessage {
	return c.KeyObject("user_signing", c.UserSigning, c.Master)
}

// SignWith adds the signature of the user's cross-signing key priv to raw.
func (c *CrossSigning) SignWith(priv ed25519.PrivateKey, raw json.RawMessage) json.RawMessage {
	signed, err := signing.SignJSON(c.UserID, signing.KeyID("ed25519:"+Pub(priv)), priv, raw)
	if err != nil {
		c.t.Fatal(err)
	}
	return signed
}

// Verify checks raw for the user's signature by the cross-signing key priv.
func (c *CrossSigning) Verify(priv ed25519.PrivateKey, raw []byte) error {
	return signing.VerifyJSON(c.UserID, signing.KeyID("ed25519:"+Pub(priv)), priv.Public().(ed25519.PublicKey), raw)
}

// SignObject adds the device's signature to raw (say, of its user's master key).
func (d *Device) SignObject(raw json.RawMessage) json.RawMessage {
	signed, err := signing.SignJSON(d.UserID, signing.KeyID("ed25519:"+d.DeviceID), d.priv, raw)
	if err != nil {
		d.t.Fatal(err)
	}
	return signed
}
