package federation

import (
	"context"
	"encoding/json"
	"net/http"
)

// UserDevice is one device in a user/devices answer.
type UserDevice struct {
	DeviceID    string `json:"device_id"`
	DisplayName string `json:"device_display_name,omitempty"`
	// Keys is the signed DeviceKeys object.
	Keys json.RawMessage `json:"keys"`
}

// UserDevicesResponse is every device of a user, with cross-signing keys.
type UserDevicesResponse struct {
	UserID string `json:"user_id"`
	// StreamID orders device list updates (m.device_list_update EDUs).
	StreamID       int64           `json:"stream_id"`
	Devices        []UserDevice    `json:"devices"`
	MasterKey      json.RawMessage `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage `json:"self_signing_key,omitempty"`
}

// UserDevices sends GET /_matrix/federation/v1/user/devices/{userId}.
func (c *Client) UserDevices(ctx context.Context, destination, userID string) (UserDevicesResponse, error) {
	var out UserDevicesResponse
	err := c.Do(ctx, destination, http.MethodGet, fedPath("/_matrix/federation/v1/user/devices/%s", userID), nil, nil, &out)
	return out, err
}

// QueryKeysRequest asks for device keys: user ID → device IDs (empty: all devices).
type QueryKeysRequest struct {
	DeviceKeys map[string][]string `json:"device_keys"`
}

// QueryKeysResponse holds device keys (user → device → DeviceKeys) and cross-signing keys.
type QueryKeysResponse struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys,omitempty"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys,omitempty"`
}

// QueryKeys sends POST /_matrix/federation/v1/user/keys/query.
func (c *Client) QueryKeys(ctx context.Context, destination string, req QueryKeysRequest) (QueryKeysResponse, error) {
	var out QueryKeysResponse
	err := c.Do(ctx, destination, http.MethodPost, "/_matrix/federation/v1/user/keys/query", nil, req, &out)
	return out, err
}

// ClaimKeysRequest claims one-time keys: user → device → algorithm.
type ClaimKeysRequest struct {
	OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
}

// ClaimKeysResponse holds the claimed keys: user → device → key ID → key.
type ClaimKeysResponse struct {
	OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
}

// ClaimKeys sends POST /_matrix/federation/v1/user/keys/claim.
func (c *Client) ClaimKeys(ctx context.Context, destination string, req ClaimKeysRequest) (ClaimKeysResponse, error) {
	var out ClaimKeysResponse
	err := c.Do(ctx, destination, http.MethodPost, "/_matrix/federation/v1/user/keys/claim", nil, req, &out)
	return out, err
}
