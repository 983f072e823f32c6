package api

import (
	"context"
	"encoding/json"
)

// Arrow 20 (keyserver → federationsender; numbered as docs/wiring.md, "Arrows from 14
// on"): the keyserver asks other servers for their users' keys. The federationsender makes
// the signed requests (it holds the server's signing key and outbound client, in the
// polylith as in the monolith); the keyserver groups users by server, bounds the time
// (the client's `timeout`) and checks every returned key's signatures itself.

// RemoteKeysAPI is the part of the federationsender the keyserver calls. It is not part
// of FederationSenderAPI, so that other components' fakes need not implement it.
type RemoteKeysAPI interface {
	// QueryRemoteKeys sends POST /_matrix/federation/v1/user/keys/query to Destination
	// and returns its answer unchecked.
	QueryRemoteKeys(ctx context.Context, req *QueryRemoteKeysRequest) (*QueryRemoteKeysResponse, error)
	// ClaimRemoteKeys sends POST /_matrix/federation/v1/user/keys/claim to Destination and
	// returns its answer unchecked.
	ClaimRemoteKeys(ctx context.Context, req *ClaimRemoteKeysRequest) (*ClaimRemoteKeysResponse, error)
	// QueryRemoteDevices sends GET /_matrix/federation/v1/user/devices/{userId} to the
	// user's server and returns its answer unchecked (the keyserver's cache of remote
	// device lists: a resync when m.device_list_update's prev_id shows a gap).
	QueryRemoteDevices(ctx context.Context, req *QueryRemoteDevicesRequest) (*QueryRemoteDevicesResponse, error)
}

// QueryRemoteDevicesRequest names another server's user.
type QueryRemoteDevicesRequest struct {
	UserID string `json:"user_id"`
}

// QueryRemoteDevicesResponse is the remote server's /user/devices answer.
type QueryRemoteDevicesResponse struct {
	UserID         string                     `json:"user_id"`
	StreamID       int64                      `json:"stream_id"`
	Devices        map[string]json.RawMessage `json:"devices"` // device ID → its device keys
	MasterKey      json.RawMessage            `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage            `json:"self_signing_key,omitempty"`
}

// QueryRemoteKeysRequest asks Destination for its users' device keys: user ID → device
// IDs (empty: every device).
type QueryRemoteKeysRequest struct {
	Destination string              `json:"destination"`
	DeviceKeys  map[string][]string `json:"device_keys"`
}

// QueryRemoteKeysResponse is the remote server's answer.
type QueryRemoteKeysResponse struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys,omitempty"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys,omitempty"`
}

// ClaimRemoteKeysRequest claims one-time keys of Destination's users: user ID → device
// ID → algorithm.
type ClaimRemoteKeysRequest struct {
	Destination string                       `json:"destination"`
	OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
}

// ClaimRemoteKeysResponse is the remote server's answer: user ID → device ID →
// "algorithm:key_id" → key.
type ClaimRemoteKeysResponse struct {
	OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
}
