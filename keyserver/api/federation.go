package api

import (
	"context"
	"encoding/json"
)

// Arrow 15 (federationapi → keyserver; numbered as docs/wiring.md, "Arrows from 14 on"):
// other servers ask for this server's users' keys. /user/keys/query and /user/keys/claim
// use QueryKeys (with no Requester: no user-signing keys, no signature one user made of
// another's master key) and ClaimKeys; /user/devices uses FederationDeviceList; /send's
// m.device_list_update EDUs go to InputDeviceListUpdates.

// DeviceListAPI is the part of KeyServerAPI that only federation calls.
type DeviceListAPI interface {
	// FederationDeviceList returns a local user's device list for GET
	// /_matrix/federation/v1/user/devices/{userId}: the devices with keys, their keys,
	// the user's master and self-signing keys, and the stream_id (the topic 7 position of
	// the list's newest change). Another server's user is 400 M_INVALID_PARAM.
	FederationDeviceList(ctx context.Context, req *DeviceListRequest) (*DeviceListResponse, error)
	// InputDeviceListUpdates records other servers' m.device_list_update and
	// m.signing_key_update EDUs (from /send, handed over by the federationapi): an update
	// of a user who is not Origin's is dropped, a device update not newer than the
	// device's last one is ignored, and every new one is staged on topic 7 so the /sync of
	// users sharing a room shows it in device_lists.changed. Both keep the cache of remote
	// users' keys fresh (signing keys are checked first: a master key naming the user, a
	// self-signing key signed by it).
	InputDeviceListUpdates(ctx context.Context, req *InputDeviceListUpdatesRequest) error
}

// InputDeviceListUpdatesRequest is the m.device_list_update EDUs of one transaction.
type InputDeviceListUpdatesRequest struct {
	Origin  string             `json:"origin"`
	Updates []DeviceListUpdate `json:"updates"`
	// SigningKeyUpdates are the transaction's m.signing_key_update EDUs.
	SigningKeyUpdates []SigningKeyUpdate `json:"signing_key_updates,omitempty"`
}

// SigningKeyUpdate is the content of an m.signing_key_update EDU: a user's new master
// and/or self-signing key.
type SigningKeyUpdate struct {
	UserID         string          `json:"user_id"`
	MasterKey      json.RawMessage `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage `json:"self_signing_key,omitempty"`
}

// DeviceListUpdate is the content of an m.device_list_update EDU.
type DeviceListUpdate struct {
	UserID   string          `json:"user_id"`
	DeviceID string          `json:"device_id"`
	StreamID int64           `json:"stream_id"`
	PrevID   []int64         `json:"prev_id,omitempty"`
	Deleted  bool            `json:"deleted,omitempty"`
	Keys     json.RawMessage `json:"keys,omitempty"`
}

// DeviceListRequest names a local user.
type DeviceListRequest struct {
	UserID string `json:"user_id"`
}

// DeviceListResponse is the body of the /user/devices answer.
type DeviceListResponse struct {
	UserID         string             `json:"user_id"`
	StreamID       int64              `json:"stream_id"`
	Devices        []DeviceListDevice `json:"devices"`
	MasterKey      json.RawMessage    `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage    `json:"self_signing_key,omitempty"`
}

// DeviceListDevice is one device of a DeviceListResponse.
type DeviceListDevice struct {
	DeviceID string          `json:"device_id"`
	Keys     json.RawMessage `json:"keys"`
	// DisplayName is not known to the keyserver (the userapi keeps device names); left out.
	DisplayName string `json:"device_display_name,omitempty"`
}
