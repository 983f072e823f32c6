// Package api is the serverkeyapi's internal API (Tier 2): this server's signing keys as
// other servers fetch them, the notary service, and other servers' keys — fetched directly
// or through notaries, cached by validity — for checking their signatures. The
// federationapi calls it (arrow 11: X-Matrix requests, incoming events), and later the
// federationsender (arrow 12: responses such as send_join) and the roomserver (arrow 13:
// backfilled events). The direct implementation is serverkeyapi/internal; the polylith's
// client is serverkeyapi/inthttp.
package api

import (
	"context"
	"encoding/json"
)

// ServerKeyAPI is the serverkeyapi's interface.
type ServerKeyAPI interface {
	// ServerKeys returns this server's keys as the signed body of GET
	// /_matrix/key/v2/server: the current key in verify_keys, replaced keys in
	// old_verify_keys, valid_until_ts = now + server_key_api.key_validity_period.
	ServerKeys(ctx context.Context) (json.RawMessage, error)
	// QueryKeys answers a notary query (GET /_matrix/key/v2/query/{serverName}, POST
	// /_matrix/key/v2/query): for each server asked for, the key responses it signed,
	// refreshed first where none is valid until the criteria's minimum_valid_until_ts,
	// each countersigned by this server. A server whose keys cannot be had is simply
	// absent. Bad criteria are M_INVALID_PARAM.
	QueryKeys(ctx context.Context, req *QueryKeysRequest) (*QueryKeysResponse, error)
	// FetchKeys returns the public keys asked for, each valid until at least its
	// MinimumValidUntilTS where one is given: from the cache, else fetched from the server
	// itself, else from the configured notaries. Keys it cannot find are absent from the
	// answer; a key found but valid too briefly is returned as it is (the caller decides).
	FetchKeys(ctx context.Context, req *FetchKeysRequest) (*FetchKeysResponse, error)
	// VerifyJSON checks that each object carries a valid signature of its server, with a
	// key valid at the object's AtTS (0: now). One result per object, in order.
	VerifyJSON(ctx context.Context, req *VerifyJSONRequest) (*VerifyJSONResponse, error)
}

// KeyCriteria is the condition on one key of a notary query.
type KeyCriteria struct {
	// MinimumValidUntilTS asks for a response valid until at least then (ms; 0: now).
	MinimumValidUntilTS int64 `json:"minimum_valid_until_ts,omitempty"`
}

// QueryKeysRequest is the body of POST /_matrix/key/v2/query: server name → key ID →
// criteria. An empty inner map asks for all of the server's keys.
type QueryKeysRequest struct {
	ServerKeys map[string]map[string]KeyCriteria `json:"server_keys"`
	// MinimumValidUntilTS is the criterion for servers asked for with no key IDs (the GET
	// /_matrix/key/v2/query/{serverName} form; ms, 0: now).
	MinimumValidUntilTS int64 `json:"minimum_valid_until_ts,omitempty"`
}

// QueryKeysResponse is the body of the notary's answer: the servers' own responses, each
// with this server's signature added.
type QueryKeysResponse struct {
	ServerKeys []json.RawMessage `json:"server_keys"`
}

// KeyRequest names one key of one server.
type KeyRequest struct {
	ServerName string `json:"server_name"`
	KeyID      string `json:"key_id"`
	// MinimumValidUntilTS: the key must be valid until then (ms); 0 for no wish (older room
	// versions, which ignore key validity).
	MinimumValidUntilTS int64 `json:"minimum_valid_until_ts,omitempty"`
}

// FetchKeysRequest asks for keys.
type FetchKeysRequest struct {
	Keys []KeyRequest `json:"keys"`
}

// PublicKey is a server's public key as the serverkeyapi believes it.
type PublicKey struct {
	ServerName string `json:"server_name"`
	KeyID      string `json:"key_id"`
	// Key is the unpadded base64 ed25519 public key.
	Key string `json:"key"`
	// ValidUntilTS (ms): for a current key the lesser of the server's valid_until_ts and
	// the fetch time + 7 days; for an old key its expired_ts.
	ValidUntilTS int64 `json:"valid_until_ts"`
	// Expired marks a key from old_verify_keys: good for events sent before ValidUntilTS,
	// never for requests.
	Expired bool `json:"expired,omitempty"`
}

// FetchKeysResponse holds the keys found.
type FetchKeysResponse struct {
	Keys []PublicKey `json:"keys"`
}

// SignedObject is one JSON object to check.
type SignedObject struct {
	// ServerName is the server whose signature must be on it.
	ServerName string `json:"server_name"`
	// Object is the signed JSON object.
	Object json.RawMessage `json:"object"`
	// AtTS is when the signing key must have been valid (ms; 0: now).
	AtTS int64 `json:"at_ts,omitempty"`
}

// VerifyJSONRequest lists objects to check.
type VerifyJSONRequest struct {
	Objects []SignedObject `json:"objects"`
}

// VerifyJSONResponse has one result per object: "" when a signature of the server verified
// with a key valid at AtTS, else why not.
type VerifyJSONResponse struct {
	Results []string `json:"results"`
}
