// Package inthttp carries api.UserAPI over internal HTTP for the polylith (the unnumbered
// "every Tier 1 → userapi" arrow of ARCHITECTURE.md §2: access tokens, accounts, devices,
// profiles, account data and filters). Client implements the interface by calling another
// binary's /api/userapi/… through internal/inthttp; AddRoutes serves those paths from the
// direct implementation. Errors keep their Matrix status and errcode end to end, and the
// client IP that Tier 1 components put in the context with api.WithClientIP travels with
// QueryAccessToken, so last-seen IPs are the same as in the monolith.
package inthttp

import (
	"encoding/json"

	"github.com/axon-matrix/axon/userapi/api"
)

// Paths of the userapi's internal API, below inthttp.PathPrefix.
const (
	pathPrefix             = "/userapi"
	pathCreateAccount      = pathPrefix + "/createAccount"
	pathLocalpartAvailable = pathPrefix + "/localpartAvailable"
	pathGetAccount         = pathPrefix + "/getAccount"
	pathCheckPassword      = pathPrefix + "/checkPassword"
	pathSetPassword        = pathPrefix + "/setPassword"
	pathDeactivateAccount  = pathPrefix + "/deactivateAccount"
	pathCreateDevice       = pathPrefix + "/createDevice"
	pathQueryAccessToken   = pathPrefix + "/queryAccessToken"
	pathListDevices        = pathPrefix + "/listDevices"
	pathGetDevice          = pathPrefix + "/getDevice"
	pathUpdateDevice       = pathPrefix + "/updateDevice"
	pathDeleteDevices      = pathPrefix + "/deleteDevices"
	pathDeleteAllDevices   = pathPrefix + "/deleteAllDevices"
	pathGetProfile         = pathPrefix + "/getProfile"
	pathSetDisplayName     = pathPrefix + "/setDisplayName"
	pathSetAvatarURL       = pathPrefix + "/setAvatarURL"
	pathSetAccountData     = pathPrefix + "/setAccountData"
	pathGetAccountData     = pathPrefix + "/getAccountData"
	pathListAccountData    = pathPrefix + "/listAccountData"
	pathPutFilter          = pathPrefix + "/putFilter"
	pathGetFilter          = pathPrefix + "/getFilter"
)

// Request and response bodies of the methods whose arguments or results are not one api
// struct. Methods that take or return an api struct send it as it is.

type localpartReq struct {
	Localpart string `json:"localpart"`
}

type availableResp struct {
	Available bool `json:"available"`
}

type userReq struct {
	UserID string `json:"user_id"`
}

type passwordReq struct {
	UserID   string `json:"user_id"`
	Password string `json:"password"`
}

type setPasswordReq struct {
	UserID         string `json:"user_id"`
	NewPassword    string `json:"new_password"`
	LogoutDevices  bool   `json:"logout_devices"`
	ExceptDeviceID string `json:"except_device_id,omitempty"`
}

type tokenReq struct {
	AccessToken string `json:"access_token"`
	// ClientIP is api.ClientIP of the caller's context.
	ClientIP string `json:"client_ip,omitempty"`
}

type devicesResp struct {
	Devices []api.Device `json:"devices"`
}

type deviceReq struct {
	UserID      string `json:"user_id"`
	DeviceID    string `json:"device_id"`
	DisplayName string `json:"display_name,omitempty"`
}

type deleteDevicesReq struct {
	UserID         string   `json:"user_id"`
	DeviceIDs      []string `json:"device_ids,omitempty"`
	ExceptDeviceID string   `json:"except_device_id,omitempty"`
}

type profileFieldReq struct {
	UserID string `json:"user_id"`
	Value  string `json:"value"`
}

type accountDataReq struct {
	UserID string `json:"user_id"`
	RoomID string `json:"room_id,omitempty"`
	Type   string `json:"type"`
}

type rawResp struct {
	Content json.RawMessage `json:"content"`
}

type accountDataListResp struct {
	Items []api.AccountData `json:"items"`
}

type filterReq struct {
	UserID   string          `json:"user_id"`
	FilterID string          `json:"filter_id,omitempty"`
	Filter   json.RawMessage `json:"filter,omitempty"`
}

type filterIDResp struct {
	FilterID string `json:"filter_id"`
}
