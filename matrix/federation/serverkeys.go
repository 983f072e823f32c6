package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/signing"
)

// ServerKeys is a server's published signing keys (GET /_matrix/key/v2/server), as the
// server signed them. Raw keeps the exact JSON so notaries can pass it on and signatures can
// be checked again.
type ServerKeys struct {
	ServerName    string                              `json:"server_name"`
	VerifyKeys    map[signing.KeyID]VerifyKey         `json:"verify_keys"`
	OldVerifyKeys map[signing.KeyID]OldVerifyKey      `json:"old_verify_keys,omitempty"`
	ValidUntilTS  int64                               `json:"valid_until_ts"`
	Signatures    map[string]map[signing.KeyID]string `json:"signatures"`
	Raw           json.RawMessage                     `json:"-"`
}

// VerifyKey is a current public key.
type VerifyKey struct {
	Key Base64Bytes `json:"key"`
}

// OldVerifyKey is a key the server no longer uses, and since when.
type OldVerifyKey struct {
	Key       Base64Bytes `json:"key"`
	ExpiredTS int64       `json:"expired_ts"`
}

// Base64Bytes is binary data carried as unpadded base64 in JSON (decoding is lenient).
type Base64Bytes []byte

// MarshalJSON implements json.Marshaler.
func (b Base64Bytes) MarshalJSON() ([]byte, error) { return json.Marshal(signing.EncodeBase64(b)) }

// UnmarshalJSON implements json.Unmarshaler.
func (b *Base64Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	d, err := signing.DecodeBase64(s)
	if err != nil {
		return err
	}
	*b = d
	return nil
}

// ParseServerKeys parses a key response and checks its shape: a valid server name,
// valid_until_ts, ed25519 keys of 32 bytes with valid key IDs, and signatures.
func ParseServerKeys(raw []byte) (*ServerKeys, error) {
	var k ServerKeys
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("server keys: %w", err)
	}
	if err := matrix.ValidateServerName(k.ServerName); err != nil {
		return nil, fmt.Errorf("server keys: server_name: %w", err)
	}
	if k.ValidUntilTS <= 0 {
		return nil, errors.New("server keys: missing valid_until_ts")
	}
	check := func(id signing.KeyID, key []byte) error {
		if id.Algorithm() != signing.AlgorithmEd25519 {
			return nil // other algorithms are kept but never used
		}
		if err := id.Validate(); err != nil {
			return fmt.Errorf("server keys: %w", err)
		}
		if len(key) != ed25519.PublicKeySize {
			return fmt.Errorf("server keys: key %s is %d bytes", id, len(key))
		}
		return nil
	}
	for id, vk := range k.VerifyKeys {
		if err := check(id, vk.Key); err != nil {
			return nil, err
		}
	}
	for id, ok := range k.OldVerifyKeys {
		if err := check(id, ok.Key); err != nil {
			return nil, err
		}
	}
	if len(k.Signatures) == 0 {
		return nil, errors.New("server keys: unsigned")
	}
	k.Raw = append(json.RawMessage(nil), raw...)
	return &k, nil
}

// VerifySelfSigned checks that the response is signed by the server itself: it must carry
// at least one signature by a key in its own verify_keys, and every such signature must
// verify.
func (k *ServerKeys) VerifySelfSigned() error {
	keys := map[signing.KeyID]ed25519.PublicKey{}
	for id, vk := range k.VerifyKeys {
		if id.Algorithm() == signing.AlgorithmEd25519 {
			keys[id] = ed25519.PublicKey(vk.Key)
		}
	}
	return k.VerifySignedBy(k.ServerName, keys)
}

// VerifySignedBy checks that the response carries at least one signature of server by one of
// keys, and that every signature of server by one of keys verifies. Notaries' signatures are
// checked with it.
func (k *ServerKeys) VerifySignedBy(server string, keys map[signing.KeyID]ed25519.PublicKey) error {
	ids := make([]signing.KeyID, 0, len(k.Signatures[server]))
	for id := range k.Signatures[server] {
		if _, ok := keys[id]; ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return fmt.Errorf("server keys of %s: no signature of %s by a known key", k.ServerName, server)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := signing.VerifyJSON(server, id, keys[id], k.Raw); err != nil {
			return fmt.Errorf("server keys of %s: signature of %s with %s: %w", k.ServerName, server, id, err)
		}
	}
	return nil
}

// GetServerKeys fetches destination's own keys (GET /_matrix/key/v2/server) and checks that
// they are for destination and self-signed.
func (c *Client) GetServerKeys(ctx context.Context, destination string) (*ServerKeys, error) {
	var raw json.RawMessage
	if err := c.Do(ctx, destination, http.MethodGet, "/_matrix/key/v2/server", nil, nil, &raw); err != nil {
		return nil, err
	}
	k, err := ParseServerKeys(raw)
	if err != nil {
		return nil, err
	}
	if k.ServerName != destination {
		return nil, fmt.Errorf("%w: keys of %q returned by %q", errBadResponse, k.ServerName, destination)
	}
	if err := k.VerifySelfSigned(); err != nil {
		return nil, err
	}
	return k, nil
}

// KeyCriteria is the per-key condition of a notary query.
type KeyCriteria struct {
	// MinimumValidUntilTS asks for keys valid until at least then (0: now).
	MinimumValidUntilTS int64 `json:"minimum_valid_until_ts,omitempty"`
}

// KeyQueryRequest is the body of POST /_matrix/key/v2/query: server → key ID → criteria;
// an empty inner map asks for all of the server's keys.
type KeyQueryRequest struct {
	ServerKeys map[string]map[signing.KeyID]KeyCriteria `json:"server_keys"`
}

// QueryServerKeys asks notary for other servers' keys (POST /_matrix/key/v2/query). The
// answers are parsed but not verified: the caller checks both the origin's and the notary's
// signatures (the keyring does). Entries that do not parse are dropped.
func (c *Client) QueryServerKeys(ctx context.Context, notary string, req KeyQueryRequest) ([]*ServerKeys, error) {
	var out struct {
		ServerKeys []json.RawMessage `json:"server_keys"`
	}
	if req.ServerKeys == nil {
		req.ServerKeys = map[string]map[signing.KeyID]KeyCriteria{}
	}
	if err := c.Do(ctx, notary, http.MethodPost, "/_matrix/key/v2/query", nil, req, &out); err != nil {
		return nil, err
	}
	keys := make([]*ServerKeys, 0, len(out.ServerKeys))
	for _, raw := range out.ServerKeys {
		if k, err := ParseServerKeys(raw); err == nil {
			keys = append(keys, k)
		}
	}
	return keys, nil
}
