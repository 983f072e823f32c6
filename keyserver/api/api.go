// Package api is the keyserver's internal API: the end-to-end encryption keys of local
// devices (device keys, one-time keys, fallback keys), users' cross-signing keys and
// signatures, and key backup. Callers: the clientapi for /keys/upload, /keys/query,
// /keys/claim, /keys/device_signing/upload, /keys/signatures/upload and /room_keys/…
// (arrow 14, clientapi → keyserver), the syncapi for the one-time key counts and unused
// fallback key types of /sync (arrow 16, syncapi → keyserver), and the clientapi when
// devices are deleted. Numbers as docs/wiring.md, "Arrows from 14 on".
package api

import (
	"context"
	"encoding/json"
)

// KeyServerAPI is implemented directly by keyserver/internal (the monolith) and over
// internal HTTP by keyserver/inthttp.Client (the polylith).
type KeyServerAPI interface {
	// UploadKeys stores a device's keys (POST /keys/upload). Bad input is a Matrix error
	// (400) and nothing is stored.
	UploadKeys(ctx context.Context, req *UploadKeysRequest) (*UploadKeysResponse, error)
	// QueryKeys returns the device keys of local users (POST /keys/query).
	QueryKeys(ctx context.Context, req *QueryKeysRequest) (*QueryKeysResponse, error)
	// ClaimKeys takes one one-time key per asked device and algorithm, or the device's
	// fallback key of that algorithm when none is left (POST /keys/claim).
	ClaimKeys(ctx context.Context, req *ClaimKeysRequest) (*ClaimKeysResponse, error)
	// QueryKeyCounts returns a device's one-time key counts and unused fallback key types
	// (/sync).
	// The answer may be shared with other callers (the keyserver keeps it in memory): do
	// not modify it.
	QueryKeyCounts(ctx context.Context, req *QueryKeyCountsRequest) (*QueryKeyCountsResponse, error)
	// DeleteDeviceKeys forgets every key of the given devices (device deletion, logout).
	DeleteDeviceKeys(ctx context.Context, req *DeleteDeviceKeysRequest) error

	// Cross-signing (crosssigning.go).

	// CrossSigningKeys returns a user's own cross-signing keys (the clientapi decides with
	// them whether /keys/device_signing/upload needs user-interactive auth).
	CrossSigningKeys(ctx context.Context, req *CrossSigningKeysRequest) (*CrossSigningKeysResponse, error)
	// UploadCrossSigningKeys stores a user's master, self-signing and user-signing keys
	// (POST /keys/device_signing/upload): every key is checked before anything is stored.
	UploadCrossSigningKeys(ctx context.Context, req *UploadCrossSigningKeysRequest) error
	// UploadSignatures stores the verified signatures of keys (POST
	// /keys/signatures/upload); each refused object is a failure of the answer.
	UploadSignatures(ctx context.Context, req *UploadSignaturesRequest) (*UploadSignaturesResponse, error)

	// Key backup (keybackup.go). A version that does not exist is 404 M_NOT_FOUND.

	// CreateKeyBackup makes a new backup version, the current one from now on.
	CreateKeyBackup(ctx context.Context, req *CreateKeyBackupRequest) (*CreateKeyBackupResponse, error)
	// KeyBackupVersion describes a backup version, the current one when Version is "".
	KeyBackupVersion(ctx context.Context, req *KeyBackupVersionRequest) (*KeyBackupVersionResponse, error)
	// UpdateKeyBackup replaces a version's auth_data (its algorithm cannot change).
	UpdateKeyBackup(ctx context.Context, req *CreateKeyBackupRequest) error
	// DeleteKeyBackup deletes a version and its keys.
	DeleteKeyBackup(ctx context.Context, req *KeyBackupVersionRequest) error
	// PutBackupKeys stores keys in the current version (403 M_WRONG_ROOM_KEYS_VERSION for
	// another existing one).
	PutBackupKeys(ctx context.Context, req *PutBackupKeysRequest) (*BackupKeysUpdateResponse, error)
	// BackupKeys returns keys of a version.
	BackupKeys(ctx context.Context, req *BackupKeysRequest) (*BackupKeysResponse, error)
	// DeleteBackupKeys deletes keys of a version.
	DeleteBackupKeys(ctx context.Context, req *BackupKeysRequest) (*BackupKeysUpdateResponse, error)

	// Federation (federation.go, arrow 15).
	DeviceListAPI
	// Read your own writes (writepos.go, arrow 16).
	WritePositionAPI
}

// UploadKeysRequest is one device's upload. DeviceKeys is the device_keys object or empty;
// OneTimeKeys and FallbackKeys map "algorithm:key_id" to the key (a string for unsigned
// curve25519 keys, an object for signed ones).
type UploadKeysRequest struct {
	UserID       string                     `json:"user_id"`
	DeviceID     string                     `json:"device_id"`
	DeviceKeys   json.RawMessage            `json:"device_keys,omitempty"`
	OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys,omitempty"`
	FallbackKeys map[string]json.RawMessage `json:"fallback_keys,omitempty"`
}

// UploadKeysResponse is the body of the /keys/upload answer.
type UploadKeysResponse struct {
	OneTimeKeyCounts map[string]int `json:"one_time_key_counts"`
}

// QueryKeysRequest asks for the device keys of users: user ID → device IDs (empty: all of
// the user's devices). Requester is who asks.
type QueryKeysRequest struct {
	Requester  string              `json:"requester"`
	DeviceKeys map[string][]string `json:"device_keys"`
	// TimeoutMS bounds the wait for other servers (the client's `timeout`; 0: 10 s).
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// QueryKeysResponse is the body of the /keys/query answer: user ID → device ID → the
// device keys as uploaded, with the cross-signing signatures uploaded for them; user ID →
// the user's master and self-signing keys, and the user-signing key of the requester
// only. Failures maps a server name to why its users could not be asked (it did not
// answer in time, or the keyserver is not connected to the federationsender).
type QueryKeysResponse struct {
	Failures        map[string]json.RawMessage            `json:"failures"`
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys"`
	UserSigningKeys map[string]json.RawMessage            `json:"user_signing_keys"`
}

// ClaimKeysRequest is user ID → device ID → algorithm.
type ClaimKeysRequest struct {
	OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
	// TimeoutMS bounds the wait for other servers (the client's `timeout`; 0: 10 s).
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// ClaimKeysResponse is the body of the /keys/claim answer: user ID → device ID →
// "algorithm:key_id" → key.
type ClaimKeysResponse struct {
	Failures    map[string]json.RawMessage                       `json:"failures"`
	OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
}

// QueryKeyCountsRequest names one device.
type QueryKeyCountsRequest struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
}

// QueryKeyCountsResponse holds the device's counts of unclaimed one-time keys per
// algorithm (signed_curve25519 is always there, 0 when none are left) and the algorithms
// of its fallback keys that no claim has used yet.
type QueryKeyCountsResponse struct {
	OneTimeKeyCounts       map[string]int `json:"one_time_key_counts"`
	UnusedFallbackKeyTypes []string       `json:"unused_fallback_key_types"`
}

// DeleteDeviceKeysRequest names a user's devices: DeviceIDs, or every device of the user
// when All (logout/all, deactivation).
type DeleteDeviceKeysRequest struct {
	UserID    string   `json:"user_id"`
	DeviceIDs []string `json:"device_ids"`
	All       bool     `json:"all,omitempty"`
}

// Key algorithms the keyserver accepts.
const (
	AlgorithmEd25519          = "ed25519"
	AlgorithmCurve25519       = "curve25519"
	AlgorithmSignedCurve25519 = "signed_curve25519"
)
