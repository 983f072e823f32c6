package api

import "encoding/json"

// Topic 7 (eventlog.TopicKeyChange, keyserver → syncapi and → federationsender): every
// change of a local user's device list — a device's keys uploaded anew or changed, a
// device's keys deleted — or of their cross-signing keys and signatures. Each record
// carries the keyserver's own dense stream position (StreamPos, one counter), assigned in
// the transaction that made the change, never a broker offset, so any sync instance serves
// any token. Key: the user ID.

// OutputKeyChange is one topic 7 record.
type OutputKeyChange struct {
	StreamPos int64 `json:"stream_pos"`
	// PrevStreamPos is the StreamPos of the user's previous change (0: none): the prev_id
	// of the m.device_list_update EDU the federationsender makes of it.
	PrevStreamPos int64  `json:"prev_stream_pos,omitempty"`
	UserID        string `json:"user_id"`
	// DeviceID is the device whose keys changed; empty when the user's cross-signing keys
	// or signatures changed (CrossSigning).
	DeviceID string `json:"device_id,omitempty"`
	// Deleted: the device's keys are gone (device deleted, logout, deactivation).
	Deleted bool `json:"deleted,omitempty"`
	// DeviceKeys are the device's new keys (device changes that are not deletions).
	DeviceKeys json.RawMessage `json:"device_keys,omitempty"`
	// CrossSigning: the user's cross-signing keys or the signatures of their keys changed.
	CrossSigning bool `json:"cross_signing,omitempty"`
	// Audience, when set, are the only users who see the change: a signature one user
	// made of another's master key is shown to the signer only (Synapse does the same).
	// Empty: every user who shares a room with UserID.
	Audience []string `json:"audience,omitempty"`
	// MasterKey and SelfSigningKey are set when the user's cross-signing keys themselves
	// changed (an upload, not a signature): the keys now stored, which the federationsender
	// sends other servers as an m.signing_key_update EDU.
	MasterKey      json.RawMessage `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage `json:"self_signing_key,omitempty"`
}
