package api

import "encoding/json"

// UploadCrossSigningKeysRequest is POST /keys/device_signing/upload after the clientapi
// ran user-interactive auth (or found that none is needed): each key is the key object as
// the client sent it, or empty when not uploaded.
type UploadCrossSigningKeysRequest struct {
	UserID         string          `json:"user_id"`
	MasterKey      json.RawMessage `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage `json:"self_signing_key,omitempty"`
	UserSigningKey json.RawMessage `json:"user_signing_key,omitempty"`
}

// CrossSigningKeysRequest asks for a user's own cross-signing keys.
type CrossSigningKeysRequest struct {
	UserID string `json:"user_id"`
}

// CrossSigningKeysResponse holds a user's cross-signing keys as stored (without the
// signatures uploaded separately); a key the user has not uploaded is empty.
type CrossSigningKeysResponse struct {
	MasterKey      json.RawMessage `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage `json:"self_signing_key,omitempty"`
	UserSigningKey json.RawMessage `json:"user_signing_key,omitempty"`
}

// UploadSignaturesRequest is POST /keys/signatures/upload: user ID → key ID (a device ID
// or a cross-signing public key) → the signed key object.
type UploadSignaturesRequest struct {
	UserID     string                                `json:"user_id"`
	Signatures map[string]map[string]json.RawMessage `json:"signatures"`
}

// SignatureFailure is why one signed object was refused.
type SignatureFailure struct {
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
}

// UploadSignaturesResponse is the body of the answer: user ID → key ID → failure, for the
// objects whose signatures were not stored.
type UploadSignaturesResponse struct {
	Failures map[string]map[string]SignatureFailure `json:"failures"`
}

// Cross-signing key usages.
const (
	UsageMaster      = "master"
	UsageSelfSigning = "self_signing"
	UsageUserSigning = "user_signing"
)
