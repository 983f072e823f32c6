package inthttp

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/userapi/api"
)

// Client is api.UserAPI over internal HTTP. Queries are retried on transport failures;
// writes never are (internal/inthttp.Client.Call).
type Client struct {
	c *inthttp.Client
}

var _ api.UserAPI = (*Client)(nil)

// NewClient returns a client of the userapi whose internal API is at baseURL (config
// user_api.internal_api_url). secret is global.internal_api_secret.
func NewClient(baseURL, secret string, opts ...inthttp.Option) *Client {
	return &Client{c: inthttp.NewClient(baseURL, secret, opts...)}
}

const (
	query = true  // idempotent: retried after a transport failure
	write = false // never retried
)

// validOrNil keeps raw if it is JSON and drops it otherwise, so a malformed payload reaches
// the userapi (which answers M_BAD_JSON, as the direct implementation does) instead of
// failing to encode in the client.
func validOrNil(raw json.RawMessage) json.RawMessage {
	if json.Valid(raw) {
		return raw
	}
	return nil
}

// CreateAccount implements api.UserAPI.
func (c *Client) CreateAccount(ctx context.Context, req *api.CreateAccountRequest) (*api.Account, error) {
	var resp api.Account
	if err := c.c.Call(ctx, pathCreateAccount, req, &resp, write); err != nil {
		return nil, err
	}
	return &resp, nil
}

// LocalpartAvailable implements api.UserAPI.
func (c *Client) LocalpartAvailable(ctx context.Context, localpart string) (bool, error) {
	var resp availableResp
	err := c.c.Call(ctx, pathLocalpartAvailable, localpartReq{localpart}, &resp, query)
	return resp.Available && err == nil, err
}

// GetAccount implements api.UserAPI.
func (c *Client) GetAccount(ctx context.Context, userID string) (*api.Account, error) {
	var resp api.Account
	if err := c.c.Call(ctx, pathGetAccount, userReq{userID}, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// CheckPassword implements api.UserAPI.
func (c *Client) CheckPassword(ctx context.Context, userID, password string) (*api.Account, error) {
	var resp api.Account
	if err := c.c.Call(ctx, pathCheckPassword, passwordReq{userID, password}, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SetPassword implements api.UserAPI.
func (c *Client) SetPassword(ctx context.Context, userID, newPassword string, logoutDevices bool, exceptDeviceID string) error {
	return c.c.Call(ctx, pathSetPassword, setPasswordReq{userID, newPassword, logoutDevices, exceptDeviceID}, nil, write)
}

// DeactivateAccount implements api.UserAPI.
func (c *Client) DeactivateAccount(ctx context.Context, userID string) error {
	return c.c.Call(ctx, pathDeactivateAccount, userReq{userID}, nil, write)
}

// CreateDevice implements api.UserAPI.
func (c *Client) CreateDevice(ctx context.Context, req *api.CreateDeviceRequest) (*api.Device, error) {
	var resp api.Device
	if err := c.c.Call(ctx, pathCreateDevice, req, &resp, write); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryAccessToken implements api.UserAPI. The client IP of ctx (api.WithClientIP) goes
// along, so the userapi records it as the device's last-seen IP.
func (c *Client) QueryAccessToken(ctx context.Context, accessToken string) (*api.Device, error) {
	var resp api.Device
	if err := c.c.Call(ctx, pathQueryAccessToken, tokenReq{accessToken, api.ClientIP(ctx)}, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ListDevices implements api.UserAPI.
func (c *Client) ListDevices(ctx context.Context, userID string) ([]api.Device, error) {
	var resp devicesResp
	if err := c.c.Call(ctx, pathListDevices, userReq{userID}, &resp, query); err != nil {
		return nil, err
	}
	return resp.Devices, nil
}

// GetDevice implements api.UserAPI.
func (c *Client) GetDevice(ctx context.Context, userID, deviceID string) (*api.Device, error) {
	var resp api.Device
	if err := c.c.Call(ctx, pathGetDevice, deviceReq{UserID: userID, DeviceID: deviceID}, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// UpdateDevice implements api.UserAPI.
func (c *Client) UpdateDevice(ctx context.Context, userID, deviceID, displayName string) error {
	return c.c.Call(ctx, pathUpdateDevice, deviceReq{userID, deviceID, displayName}, nil, write)
}

// DeleteDevices implements api.UserAPI.
func (c *Client) DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error {
	return c.c.Call(ctx, pathDeleteDevices, deleteDevicesReq{UserID: userID, DeviceIDs: deviceIDs}, nil, write)
}

// DeleteAllDevices implements api.UserAPI.
func (c *Client) DeleteAllDevices(ctx context.Context, userID, exceptDeviceID string) error {
	return c.c.Call(ctx, pathDeleteAllDevices, deleteDevicesReq{UserID: userID, ExceptDeviceID: exceptDeviceID}, nil, write)
}

// GetProfile implements api.UserAPI.
func (c *Client) GetProfile(ctx context.Context, userID string) (*api.Profile, error) {
	var resp api.Profile
	if err := c.c.Call(ctx, pathGetProfile, userReq{userID}, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SetDisplayName implements api.UserAPI.
func (c *Client) SetDisplayName(ctx context.Context, userID, displayName string) error {
	return c.c.Call(ctx, pathSetDisplayName, profileFieldReq{userID, displayName}, nil, write)
}

// SetAvatarURL implements api.UserAPI.
func (c *Client) SetAvatarURL(ctx context.Context, userID, avatarURL string) error {
	return c.c.Call(ctx, pathSetAvatarURL, profileFieldReq{userID, avatarURL}, nil, write)
}

// SetAccountData implements api.UserAPI. The userapi stages the topic 1 message in the
// same transaction as the write, on its side of the call.
func (c *Client) SetAccountData(ctx context.Context, data *api.AccountData) error {
	d := *data
	d.Content = validOrNil(d.Content)
	return c.c.Call(ctx, pathSetAccountData, &d, nil, write)
}

// GetAccountData implements api.UserAPI.
func (c *Client) GetAccountData(ctx context.Context, userID, roomID, dataType string) (json.RawMessage, error) {
	var resp rawResp
	if err := c.c.Call(ctx, pathGetAccountData, accountDataReq{userID, roomID, dataType}, &resp, query); err != nil {
		return nil, err
	}
	return resp.Content, nil
}

// ListAccountData implements api.UserAPI.
func (c *Client) ListAccountData(ctx context.Context, userID string) ([]api.AccountData, error) {
	var resp accountDataListResp
	if err := c.c.Call(ctx, pathListAccountData, userReq{userID}, &resp, query); err != nil {
		return nil, err
	}
	return resp.Items, nil
}

// PutFilter implements api.UserAPI.
func (c *Client) PutFilter(ctx context.Context, userID string, filter json.RawMessage) (string, error) {
	var resp filterIDResp
	if err := c.c.Call(ctx, pathPutFilter, filterReq{UserID: userID, Filter: validOrNil(filter)}, &resp, write); err != nil {
		return "", err
	}
	return resp.FilterID, nil
}

// GetFilter implements api.UserAPI.
func (c *Client) GetFilter(ctx context.Context, userID, filterID string) (json.RawMessage, error) {
	var resp rawResp
	if err := c.c.Call(ctx, pathGetFilter, filterReq{UserID: userID, FilterID: filterID}, &resp, query); err != nil {
		return nil, err
	}
	return resp.Content, nil
}
