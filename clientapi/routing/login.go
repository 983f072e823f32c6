package routing

import (
	"net/http"

	"github.com/axon-matrix/axon/clientapi/auth"
	"github.com/axon-matrix/axon/internal/httputil"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// loginFlows serves GET /login: passwords, and m.login.application_service when
// application services are registered (login_appservice.go).
func (rt *Routes) loginFlows(r *http.Request, _ *userapi.Device) (any, error) {
	flows := []map[string]string{{"type": auth.StagePassword}}
	if len(rt.appServices.All()) > 0 {
		flows = append(flows, map[string]string{"type": loginTypeAppService})
	}
	return map[string]any{"flows": flows}, nil
}

type loginRequest struct {
	Type                     string           `json:"type"`
	Identifier               *auth.Identifier `json:"identifier"`
	User                     string           `json:"user"` // legacy
	Password                 string           `json:"password"`
	DeviceID                 string           `json:"device_id"`
	InitialDeviceDisplayName string           `json:"initial_device_display_name"`
	RefreshToken             bool             `json:"refresh_token"`
}

// login serves POST /login with m.login.password, or m.login.application_service
// (login_appservice.go). Refresh tokens are not supported.
func (rt *Routes) login(r *http.Request, _ *userapi.Device) (any, error) {
	var req loginRequest
	if err := readJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	if req.Type == "" {
		return nil, httputil.MissingParam("Missing login type")
	}
	if req.Type == loginTypeAppService {
		return rt.loginAppService(r, &req)
	}
	if req.Type != auth.StagePassword {
		return nil, httputil.Unknown("Unknown login type %q", req.Type)
	}
	user, err := req.user()
	if err != nil {
		return nil, err
	}
	if req.Password == "" {
		return nil, httputil.MissingParam("Missing password")
	}
	userID := auth.QualifyUserID(user, rt.cfg.ServerName)
	if _, server, err := parseUserID(userID); err != nil || server != rt.cfg.ServerName {
		return nil, httputil.Forbidden("Invalid username or password")
	}
	ctx := r.Context()
	if err := rt.limitLogin(userID); err != nil {
		return nil, err
	}
	acc, err := rt.userAPI.CheckPassword(ctx, userID, req.Password)
	rt.loginDone(userID, err)
	if err != nil {
		return nil, err
	}
	dev, err := rt.userAPI.CreateDevice(ctx, &userapi.CreateDeviceRequest{
		UserID: acc.UserID, DeviceID: req.DeviceID, DisplayName: req.InitialDeviceDisplayName, IP: rt.clientIP(r)})
	if err != nil {
		return nil, err
	}
	return rt.loginResponse(dev), nil
}

// user is the login's user as given: the m.id.user identifier's, or the legacy user
// field's (a localpart or a full user ID).
func (req *loginRequest) user() (string, error) {
	user := req.User
	if req.Identifier != nil {
		if req.Identifier.Type != "m.id.user" {
			return "", httputil.Unknown("Unknown identifier type %q: only m.id.user is supported", req.Identifier.Type)
		}
		user = req.Identifier.User
	}
	if user == "" {
		return "", httputil.MissingParam("Missing user identifier")
	}
	return user, nil
}

// loginResponse is the answer to a successful login on dev (with its new access token).
func (rt *Routes) loginResponse(dev *userapi.Device) map[string]any {
	resp := map[string]any{"user_id": dev.UserID, "access_token": dev.AccessToken, "device_id": dev.DeviceID,
		"home_server": rt.cfg.ServerName}
	if rt.cfg.PublicBaseURL != "" {
		resp["well_known"] = rt.wellKnownBody()
	}
	return resp
}

// logout serves POST /logout: the calling device and its token go away.
func (rt *Routes) logout(r *http.Request, dev *userapi.Device) (any, error) {
	if err := rt.userAPI.DeleteDevices(r.Context(), dev.UserID, []string{dev.DeviceID}); err != nil {
		return nil, err
	}
	rt.forgetDeviceKeys(r, &keyapi.DeleteDeviceKeysRequest{UserID: dev.UserID, DeviceIDs: []string{dev.DeviceID}})
	return empty, nil
}

// logoutAll serves POST /logout/all: every device of the user.
func (rt *Routes) logoutAll(r *http.Request, dev *userapi.Device) (any, error) {
	if err := rt.userAPI.DeleteAllDevices(r.Context(), dev.UserID, ""); err != nil {
		return nil, err
	}
	rt.forgetDeviceKeys(r, &keyapi.DeleteDeviceKeysRequest{UserID: dev.UserID, All: true})
	return empty, nil
}

// whoami serves GET /account/whoami.
func (rt *Routes) whoami(r *http.Request, dev *userapi.Device) (any, error) {
	resp := map[string]any{"user_id": dev.UserID, "device_id": dev.DeviceID,
		"is_guest": dev.AccountType == userapi.AccountTypeGuest}
	if dev.DeviceID == "" {
		delete(resp, "device_id") // an application service's request has no device
	}
	return resp, nil
}
