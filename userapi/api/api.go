// Package api is the userapi's contract: accounts, devices and access tokens, profiles,
// account data, filters and user-interactive-auth sessions. Every Tier 1 component calls it
// to check access tokens (the unnumbered "every Tier 1 → userapi" arrow of ARCHITECTURE.md §2).
// The monolith hands over the direct implementation (userapi/internal), the polylith the
// inthttp client. Errors are *httputil.MatrixError where the client should see an errcode.
package api

import (
	"context"
	"encoding/json"
)

// AccountType says what kind of account a user has.
type AccountType int

const (
	AccountTypeUser AccountType = iota + 1
	AccountTypeGuest
	AccountTypeAdmin
	AccountTypeAppService
)

// Account is a local user account.
type Account struct {
	UserID      string // @localpart:server
	Localpart   string
	AccountType AccountType
	Deactivated bool
	CreatedTS   int64
}

// Device is a logged-in device of a user. AccessToken is only set in the response that
// created it (tokens are stored hashed and cannot be read back).
type Device struct {
	UserID      string
	DeviceID    string
	DisplayName string
	AccessToken string
	LastSeenTS  int64
	LastSeenIP  string
	AccountType AccountType
	// AccountDataPos is read-your-writes for topic 1, filled by QueryAccessToken: the
	// newest stream position of the user's own account-data writes (or a floor covering
	// every write before the userapi started). A sync instance that serves it reflects
	// them all (docs/wiring.md, "Read your own writes").
	AccountDataPos int64 `json:",omitempty"`
}

// Profile is a user's public profile.
type Profile struct {
	UserID      string
	DisplayName string
	AvatarURL   string
}

// CreateAccountRequest creates an account. Password may be empty (no password login).
type CreateAccountRequest struct {
	Localpart   string
	Password    string
	AccountType AccountType
	DisplayName string // defaults to the localpart
	// RegistrationTokenSession, when set, is the UIA session that passed the
	// m.login.registration_token stage (ReserveRegistrationToken): the account is created
	// only if that reservation still holds, and in the same transaction the token's use
	// moves from pending to completed.
	RegistrationTokenSession string `json:",omitempty"`
}

// CreateDeviceRequest logs a user in on a device. An empty DeviceID gets a generated one;
// an existing DeviceID of the same user is replaced (its old token stops working).
type CreateDeviceRequest struct {
	UserID      string
	DeviceID    string
	DisplayName string
	IP          string
}

// AccountData is one account-data item. RoomID is "" for global account data.
type AccountData struct {
	UserID  string
	RoomID  string
	Type    string
	Content json.RawMessage
}

// UserAPI is the userapi's interface.
type UserAPI interface {
	// Accounts
	CreateAccount(ctx context.Context, req *CreateAccountRequest) (*Account, error)
	// LocalpartAvailable is false for a taken or reserved localpart.
	LocalpartAvailable(ctx context.Context, localpart string) (bool, error)
	GetAccount(ctx context.Context, userID string) (*Account, error)
	// CheckPassword returns the account if password matches; M_FORBIDDEN otherwise (also for
	// unknown and deactivated users, so nobody learns which localparts exist).
	CheckPassword(ctx context.Context, userID, password string) (*Account, error)
	// SetPassword changes a password; with logoutDevices it deletes every device but exceptDeviceID.
	SetPassword(ctx context.Context, userID, newPassword string, logoutDevices bool, exceptDeviceID string) error
	// DeactivateAccount marks the account deactivated and removes its devices and tokens.
	DeactivateAccount(ctx context.Context, userID string) error

	// Devices and access tokens
	CreateDevice(ctx context.Context, req *CreateDeviceRequest) (*Device, error)
	// QueryAccessToken returns the device an access token belongs to, or M_UNKNOWN_TOKEN (401).
	QueryAccessToken(ctx context.Context, accessToken string) (*Device, error)
	ListDevices(ctx context.Context, userID string) ([]Device, error)
	// GetDevice returns M_NOT_FOUND for an unknown device.
	GetDevice(ctx context.Context, userID, deviceID string) (*Device, error)
	UpdateDevice(ctx context.Context, userID, deviceID, displayName string) error
	DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error
	// DeleteAllDevices logs out every device of userID except exceptDeviceID ("" for none).
	DeleteAllDevices(ctx context.Context, userID, exceptDeviceID string) error

	// Profiles
	GetProfile(ctx context.Context, userID string) (*Profile, error)
	SetDisplayName(ctx context.Context, userID, displayName string) error
	SetAvatarURL(ctx context.Context, userID, avatarURL string) error

	// Account data. SetAccountData stores the item and, in the same transaction, stages the
	// change on topic 1 (account data → syncapi) through the outbox, so sync never misses it.
	SetAccountData(ctx context.Context, data *AccountData) error
	// GetAccountData returns one item, or M_NOT_FOUND.
	GetAccountData(ctx context.Context, userID, roomID, dataType string) (json.RawMessage, error)
	// ListAccountData returns every item of a user (global and per room).
	ListAccountData(ctx context.Context, userID string) ([]AccountData, error)

	// Filters (spec: POST/GET /user/{userId}/filter)
	PutFilter(ctx context.Context, userID string, filter json.RawMessage) (filterID string, err error)
	GetFilter(ctx context.Context, userID, filterID string) (json.RawMessage, error)

	// Registration tokens (spec 1.2 m.login.registration_token; managed through Synapse's
	// admin API by the clientapi). Bad input is M_INVALID_PARAM, an unknown token M_NOT_FOUND.
	CreateRegistrationToken(ctx context.Context, req *NewRegistrationTokenRequest) (*RegistrationToken, error)
	// ListRegistrationTokens returns every token; valid non-nil keeps only the valid (true)
	// or only the invalid (false) ones.
	ListRegistrationTokens(ctx context.Context, valid *bool) ([]RegistrationToken, error)
	GetRegistrationToken(ctx context.Context, token string) (*RegistrationToken, error)
	UpdateRegistrationToken(ctx context.Context, req *UpdateRegistrationTokenRequest) (*RegistrationToken, error)
	DeleteRegistrationToken(ctx context.Context, token string) error
	// RegistrationTokenValid reports whether token exists, has not expired and has uses left.
	RegistrationTokenValid(ctx context.Context, token string) (bool, error)
	// ReserveRegistrationToken counts one pending use of token for the UIA session (again
	// for the same session and token: nothing more). An invalid token is 401 M_UNAUTHORIZED.
	ReserveRegistrationToken(ctx context.Context, token, session string) error
}

// OutputAccountData is the payload of a topic 1 message (account data → syncapi). Its
// Key is the user ID. StreamPos is assigned by the userapi in the same transaction as the
// write, dense and increasing, so every sync instance sees the same positions.
type OutputAccountData struct {
	StreamPos int64           `json:"stream_pos"`
	UserID    string          `json:"user_id"`
	RoomID    string          `json:"room_id,omitempty"`
	Type      string          `json:"type"`
	Content   json.RawMessage `json:"content"`
}
