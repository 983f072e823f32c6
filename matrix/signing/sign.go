package signing

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/axon-matrix/axon/matrix/cjson"
)

// Signatures is the "signatures" member of a signed object: server (or user) name → key
// ID → unpadded base64 signature.
type Signatures map[string]map[KeyID]string

// ErrNoSignature means the object carries no signature for the asked name and key ID.
var ErrNoSignature = errors.New("no signature for this entity and key")

// ErrBadSignature means a signature is present but does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// splitObject parses a JSON object into its members and takes out "signatures" and
// "unsigned".
func splitObject(message []byte) (obj map[string]json.RawMessage, sigs Signatures, unsigned json.RawMessage, err error) {
	// Canonicalising first rejects what encoding/json would let through (duplicate keys,
	// invalid UTF-8), so every signer and verifier sees the same members.
	canonical, err := cjson.Canonical(message, false)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("signing: %w", err)
	}
	if err := json.Unmarshal(canonical, &obj); err != nil {
		return nil, nil, nil, fmt.Errorf("signing: not a JSON object: %w", err)
	}
	if obj == nil {
		return nil, nil, nil, errors.New("signing: not a JSON object")
	}
	sigs = Signatures{}
	if raw, ok := obj["signatures"]; ok {
		if err := json.Unmarshal(raw, &sigs); err != nil {
			return nil, nil, nil, fmt.Errorf("signing: malformed signatures: %w", err)
		}
		if sigs == nil {
			sigs = Signatures{}
		}
		delete(obj, "signatures")
	}
	unsigned = obj["unsigned"]
	delete(obj, "unsigned")
	return obj, sigs, unsigned, nil
}

// SignedBytes returns the bytes a signature covers: the canonical JSON of the object
// without "signatures" and "unsigned".
func SignedBytes(message []byte) ([]byte, error) {
	obj, _, _, err := splitObject(message)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return cjson.Canonical(raw, false)
}

// SignJSON signs a JSON object as entity name (a server name, or a user ID for
// cross-signing) with the given key, and returns the object in canonical JSON with the
// signature added to "signatures" (existing signatures and "unsigned" are kept).
func SignJSON(name string, keyID KeyID, key ed25519.PrivateKey, message []byte) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("signing: bad ed25519 private key")
	}
	obj, sigs, unsigned, err := splitObject(message)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	toSign, err := cjson.Canonical(raw, false)
	if err != nil {
		return nil, err
	}
	if sigs[name] == nil {
		sigs[name] = map[KeyID]string{}
	}
	sigs[name][keyID] = EncodeBase64(ed25519.Sign(key, toSign))
	if obj["signatures"], err = json.Marshal(sigs); err != nil {
		return nil, err
	}
	if unsigned != nil {
		obj["unsigned"] = unsigned
	}
	if raw, err = json.Marshal(obj); err != nil {
		return nil, err
	}
	return cjson.Canonical(raw, false)
}

// VerifyJSON checks the signature of entity name with keyID on a JSON object against a
// public key. It returns ErrNoSignature if there is none, ErrBadSignature if it does not
// verify.
func VerifyJSON(name string, keyID KeyID, key ed25519.PublicKey, message []byte) error {
	if keyID.Algorithm() != AlgorithmEd25519 {
		return fmt.Errorf("signing: unsupported algorithm in key ID %q", string(keyID))
	}
	if len(key) != ed25519.PublicKeySize {
		return errors.New("signing: bad ed25519 public key")
	}
	obj, sigs, _, err := splitObject(message)
	if err != nil {
		return err
	}
	sigB64, ok := sigs[name][keyID]
	if !ok {
		return fmt.Errorf("%w: %s %s", ErrNoSignature, name, keyID)
	}
	sig, err := DecodeBase64(sigB64)
	if err != nil {
		return fmt.Errorf("signing: signature is not base64: %w", err)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	signed, err := cjson.Canonical(raw, false)
	if err != nil {
		return err
	}
	if !ed25519.Verify(key, signed, sig) {
		return fmt.Errorf("%w: %s %s", ErrBadSignature, name, keyID)
	}
	return nil
}

// SignatureKeyIDs lists the key IDs with which entity name signed the object, keeping only
// algorithms this package understands (step 2 of "Checking for a Signature").
func SignatureKeyIDs(name string, message []byte) ([]KeyID, error) {
	_, sigs, _, err := splitObject(message)
	if err != nil {
		return nil, err
	}
	var ids []KeyID
	for id := range sigs[name] {
		if id.Algorithm() == AlgorithmEd25519 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
