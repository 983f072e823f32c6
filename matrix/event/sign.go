package event

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/signing"
)

// SignEventJSON adds serverName's signature to an event's JSON (server-server spec
// "Signing events"): the signature covers the redacted event without "signatures" and
// "unsigned", so it stays valid when the event is redacted. hashes.sha256 must already be
// set. It returns canonical JSON.
func SignEventJSON(version matrix.RoomVersionID, serverName string, keyID signing.KeyID, key ed25519.PrivateKey, eventJSON []byte) ([]byte, error) {
	v, err := matrix.GetRoomVersion(version)
	if err != nil {
		return nil, err
	}
	return signEventJSON(v, serverName, keyID, key, eventJSON)
}

func signEventJSON(v *matrix.RoomVersion, serverName string, keyID signing.KeyID, key ed25519.PrivateKey, eventJSON []byte) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("event: bad ed25519 private key")
	}
	redacted, err := redact(eventJSON, v)
	if err != nil {
		return nil, err
	}
	toSign, err := signing.SignedBytes(redacted)
	if err != nil {
		return nil, err
	}
	sig := signing.EncodeBase64(ed25519.Sign(key, toSign))

	top, err := topLevel(eventJSON)
	if err != nil {
		return nil, err
	}
	sigs := map[string]map[string]json.RawMessage{}
	if raw, ok := top["signatures"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &sigs); err != nil {
			return nil, badf(`"signatures" is malformed`)
		}
		if sigs == nil {
			sigs = map[string]map[string]json.RawMessage{}
		}
	}
	if sigs[serverName] == nil {
		sigs[serverName] = map[string]json.RawMessage{}
	}
	sigs[serverName][string(keyID)], _ = json.Marshal(sig)
	if top["signatures"], err = json.Marshal(sigs); err != nil {
		return nil, err
	}
	return marshalCanonical(top)
}

// Sign returns a copy of the event with serverName's signature added.
func (e *Event) Sign(serverName string, keyID signing.KeyID, key ed25519.PrivateKey) (*Event, error) {
	raw, err := signEventJSON(e.version, serverName, keyID, key, e.raw)
	if err != nil {
		return nil, err
	}
	return e.withRaw(raw)
}

// SignedBytes returns the bytes every server signature on the event covers: the canonical
// JSON of the redacted event without "signatures" and "unsigned". The serverkeyapi can
// batch-verify with it (arrows 11–13 of ARCHITECTURE.md §2).
//
// For an event whose JSON is canonical (all but those read with NewEventFromTrustedJSON*)
// they are cut straight from the JSON in one pass (signedbytes.go), so the signature
// check costs no JSON decoding; nothing is kept on the event.
func (e *Event) SignedBytes() ([]byte, error) {
	if e.canonical {
		if signed, err := signedBytesCanonical(e.raw, e.typ, e.version); err == nil {
			return signed, nil
		}
	}
	return e.signedBytesSlow()
}

// signedBytesSlow is SignedBytes by the spec's steps: redact, then drop "signatures" and
// "unsigned", as canonical JSON.
func (e *Event) signedBytesSlow() ([]byte, error) {
	redacted, err := redact(e.raw, e.version)
	if err != nil {
		return nil, err
	}
	return signing.SignedBytes(redacted)
}

// RequiredSigners lists the servers whose signature an event must carry (server-server
// spec "Validating hashes and signatures on received events"): the sender's server, except
// for an invite made from a third-party invite (the server sending it may differ from the
// sender's); for room versions 1–2 also the server of the event ID; for joins through a
// restricted room (v8+), the server of join_authorised_via_users_server (auth rule 5.2).
func RequiredSigners(e matrix.PDU) ([]string, error) {
	var servers []string
	add := func(userOrEventID, what string) error {
		s, ok := matrix.ServerNameOf(userOrEventID)
		if !ok || !matrix.ValidServerName(s) {
			return badf("%s %q has no valid server name", what, userOrEventID)
		}
		if !slices.Contains(servers, s) {
			servers = append(servers, s)
		}
		return nil
	}
	var member struct {
		Membership       string          `json:"membership"`
		Via              string          `json:"join_authorised_via_users_server"`
		ThirdPartyInvite json.RawMessage `json:"third_party_invite"`
	}
	isMember := e.Type() == "m.room.member" && e.StateKey() != nil
	if isMember {
		_ = json.Unmarshal(e.Content(), &member) // malformed content: the auth rules reject it
	}
	if !(isMember && member.Membership == "invite" && member.ThirdPartyInvite != nil) {
		if err := add(e.Sender(), "sender"); err != nil {
			return nil, err
		}
	}
	v := e.Version()
	if v.EventIDFormat == matrix.EventIDFormatServer {
		if err := add(e.EventID(), "event ID"); err != nil {
			return nil, err
		}
	}
	if v.RestrictedJoins && isMember && member.Membership == "join" && member.Via != "" {
		if err := add(member.Via, "join_authorised_via_users_server"); err != nil {
			return nil, err
		}
	}
	return servers, nil
}

// VerifyKey is a server's public signing key as the key lookup knows it.
type VerifyKey struct {
	Key ed25519.PublicKey
	// ValidUntilTS is the key's valid_until_ts (or expired_ts for an old key), in
	// milliseconds; 0 means no limit is known.
	ValidUntilTS int64
}

// KeyLookup finds the public key of serverName with keyID. It returns an error when the
// key cannot be found. The serverkeyapi provides one backed by its cache and the key
// servers (arrows 11–13).
type KeyLookup func(ctx context.Context, serverName string, keyID signing.KeyID) (VerifyKey, error)

// SignatureError says which required server's signature is missing or wrong.
type SignatureError struct {
	EventID string
	Server  string
	Err     error
}

// Error implements error.
func (e *SignatureError) Error() string {
	return fmt.Sprintf("event %s: signature of %s: %v", e.EventID, e.Server, e.Err)
}

// Unwrap returns the underlying cause, e.g. signing.ErrBadSignature.
func (e *SignatureError) Unwrap() error { return e.Err }

// VerifyEventSignatures checks that every required server (RequiredSigners) signed the
// event with at least one ed25519 key that the lookup knows and that verifies. From room
// version 5 the key must also be valid at the event's origin_server_ts.
func VerifyEventSignatures(ctx context.Context, e *Event, lookup KeyLookup) error {
	servers, err := RequiredSigners(e)
	if err != nil {
		return err
	}
	signed, err := e.SignedBytes()
	if err != nil {
		return err
	}
	sigs := e.Signatures()
	for _, server := range servers {
		if err := verifyServer(ctx, e, server, sigs[server], signed, lookup); err != nil {
			return &SignatureError{EventID: e.EventID(), Server: server, Err: err}
		}
	}
	return nil
}

func verifyServer(ctx context.Context, e *Event, server string, serverSigs map[string]string, signed []byte, lookup KeyLookup) error {
	var ids []string
	for id := range serverSigs {
		if signing.KeyID(id).Algorithm() == signing.AlgorithmEd25519 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return signing.ErrNoSignature
	}
	slices.Sort(ids)
	var lastErr error
	for _, id := range ids {
		key, err := lookup(ctx, server, signing.KeyID(id))
		if err != nil {
			lastErr = fmt.Errorf("key %s: %w", id, err)
			continue
		}
		if e.version.EnforceKeyValidity && key.ValidUntilTS != 0 && e.OriginServerTS() > key.ValidUntilTS {
			lastErr = fmt.Errorf("key %s expired at %d, before the event's origin_server_ts", id, key.ValidUntilTS)
			continue
		}
		sig, err := signing.DecodeBase64(serverSigs[id])
		if err != nil || len(key.Key) != ed25519.PublicKeySize || !ed25519.Verify(key.Key, signed, sig) {
			lastErr = fmt.Errorf("key %s: %w", id, signing.ErrBadSignature)
			continue
		}
		return nil
	}
	return lastErr
}
