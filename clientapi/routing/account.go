package routing

import (
	"net/http"

	"github.com/axon-matrix/axon/clientapi/auth"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/setup"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// changePassword serves POST /account/password (UIA with m.login.password). Other devices
// are logged out unless logout_devices is false.
func (rt *Routes) changePassword(r *http.Request, dev *userapi.Device) (any, error) {
	var req struct {
		NewPassword   string     `json:"new_password"`
		LogoutDevices *bool      `json:"logout_devices"`
		Auth          *auth.Dict `json:"auth"`
	}
	if err := readJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	ctx := r.Context()
	if err := rt.runUIA(ctx, "change_password", dev.UserID, passwordFlows, req.Auth); err != nil {
		return nil, err
	}
	if req.NewPassword == "" {
		return nil, httputil.MissingParam("Missing new_password")
	}
	if len(req.NewPassword) > maxPasswordLength {
		return nil, httputil.InvalidParam("Password is longer than %d bytes", maxPasswordLength)
	}
	logout := req.LogoutDevices == nil || *req.LogoutDevices
	if err := rt.userAPI.SetPassword(ctx, dev.UserID, req.NewPassword, logout, dev.DeviceID); err != nil {
		return nil, err
	}
	return empty, nil
}

// deactivate serves POST /account/deactivate (UIA with m.login.password). The user leaves
// every room first (arrow 4), then the userapi deactivates the account and drops its devices.
func (rt *Routes) deactivate(r *http.Request, dev *userapi.Device) (any, error) {
	var req struct {
		Auth     *auth.Dict `json:"auth"`
		Erase    bool       `json:"erase"`
		IDServer string     `json:"id_server"`
	}
	if err := readOptionalJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	ctx := r.Context()
	if err := rt.runUIA(ctx, "deactivate", dev.UserID, passwordFlows, req.Auth); err != nil {
		return nil, err
	}
	rooms, err := rt.rsAPI.QueryRoomsForUser(ctx, dev.UserID, []string{"join", "invite", "knock"})
	if err != nil {
		return nil, err
	}
	for _, roomID := range rooms {
		if _, err := rt.rsAPI.PerformMembership(ctx, &rsMembership{Action: "leave", RoomID: roomID, Sender: dev.UserID}); err != nil {
			setup.LoggerFrom(ctx).WithError(err).WithField("room_id", roomID).Warn("deactivate: leaving room failed")
		}
	}
	if err := rt.userAPI.DeactivateAccount(ctx, dev.UserID); err != nil {
		return nil, err
	}
	rt.forgetDeviceKeys(r, &keyapi.DeleteDeviceKeysRequest{UserID: dev.UserID, All: true})
	return map[string]string{"id_server_unbind_result": "no-support"}, nil
}

// threePIDs serves GET /account/3pid: this server binds no third-party identifiers (no
// email or phone support), so the list is always empty.
func (rt *Routes) threePIDs(r *http.Request, _ *userapi.Device) (any, error) {
	return map[string][]any{"threepids": {}}, nil
}
