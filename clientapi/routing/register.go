package routing

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"strings"

	"github.com/axon-matrix/axon/clientapi/auth"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// maxPasswordLength is the longest password accepted (Synapse's limit).
const maxPasswordLength = 512

// Registration flows: open registration offers what Synapse offers when no email or
// captcha is configured; token registration only the registration token stage.
var (
	registrationFlows      = []auth.Flow{{Stages: []string{auth.StageDummy}}}
	tokenRegistrationFlows = []auth.Flow{{Stages: []string{auth.StageRegistrationToken}}}
)

type registerRequest struct {
	Username                 string     `json:"username"`
	Password                 string     `json:"password"`
	DeviceID                 string     `json:"device_id"`
	InitialDeviceDisplayName string     `json:"initial_device_display_name"`
	InhibitLogin             bool       `json:"inhibit_login"`
	RefreshToken             bool       `json:"refresh_token"`
	Auth                     *auth.Dict `json:"auth"`
	// Type is m.login.application_service for an application service's registration.
	Type string `json:"type"`
}

// registerUser serves POST /register: user-interactive auth with m.login.dummy, then the
// account and (unless inhibit_login) a device. Refresh tokens are not supported, so
// refresh_token is never returned even when asked for (the spec allows that).
func (rt *Routes) registerUser(r *http.Request, _ *userapi.Device) (any, error) {
	var req registerRequest
	if err := readJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	switch kind := r.URL.Query().Get("kind"); kind {
	case "", "user":
	case "guest":
		return rt.registerGuest(r, &req)
	default:
		return nil, httputil.InvalidParam("Unknown kind %q: must be user or guest", kind)
	}
	if req.Type == loginTypeAppService || (req.Auth != nil && req.Auth.Type == loginTypeAppService) {
		return rt.registerAppServiceUser(r, &req) // appservice.go: open in every registration mode
	}
	flows := registrationFlows
	switch rt.cfg.RegistrationMode {
	case config.RegistrationOpen:
	case config.RegistrationToken:
		flows = tokenRegistrationFlows
	default: // closed, or anything unknown
		return nil, httputil.Forbidden("Registration has been disabled")
	}
	ctx := r.Context()
	// As Synapse: a username with capitals registers its lower-cased localpart.
	localpart := auth.LowerLocalpart(req.Username)
	if localpart != "" {
		if err := rt.checkUsernameAvailable(ctx, localpart); err != nil {
			return nil, err
		}
	}
	uiaReq := &auth.Request{Operation: "register", Flows: flows, Auth: req.Auth}
	if err := rt.runUIARequest(ctx, uiaReq); err != nil {
		return nil, err
	}
	if req.Password == "" {
		return nil, httputil.MissingParam("Missing password")
	}
	if len(req.Password) > maxPasswordLength {
		return nil, httputil.InvalidParam("Password is longer than %d bytes", maxPasswordLength)
	}
	if localpart == "" {
		var err error
		if localpart, err = rt.generateLocalpart(ctx); err != nil {
			return nil, err
		}
	}
	create := &userapi.CreateAccountRequest{Localpart: localpart, Password: req.Password, AccountType: userapi.AccountTypeUser}
	if rt.cfg.RegistrationMode == config.RegistrationToken {
		// The token's pending use (reserved by the stage) becomes a completed one.
		create.RegistrationTokenSession = uiaReq.SessionID
	}
	acc, err := rt.userAPI.CreateAccount(ctx, create)
	if err != nil {
		return nil, err
	}
	rt.seedPushRules(ctx, acc.UserID)
	return rt.registered(r, acc, &req)
}

func (rt *Routes) registerGuest(r *http.Request, req *registerRequest) (any, error) {
	if !rt.cfg.GuestsEnabled {
		return nil, httputil.Forbidden("Guest access is disabled")
	}
	// The userapi gives a guest the next free numeric localpart (numeric IDs are kept for
	// guests, as in Synapse).
	acc, err := rt.userAPI.CreateAccount(r.Context(), &userapi.CreateAccountRequest{AccountType: userapi.AccountTypeGuest})
	if err != nil {
		return nil, err
	}
	// Guests cannot choose their device ID (they have no password to log in again with).
	guestReq := *req
	guestReq.DeviceID = ""
	return rt.registered(r, acc, &guestReq)
}

func (rt *Routes) registered(r *http.Request, acc *userapi.Account, req *registerRequest) (any, error) {
	resp := map[string]any{"user_id": acc.UserID, "home_server": rt.cfg.ServerName}
	if req.InhibitLogin {
		return resp, nil
	}
	dev, err := rt.userAPI.CreateDevice(r.Context(), &userapi.CreateDeviceRequest{
		UserID: acc.UserID, DeviceID: req.DeviceID, DisplayName: req.InitialDeviceDisplayName, IP: rt.clientIP(r)})
	if err != nil {
		return nil, err
	}
	resp["access_token"] = dev.AccessToken
	resp["device_id"] = dev.DeviceID
	return resp, nil
}

// checkUsername validates a desired localpart: M_INVALID_USERNAME when it is malformed.
func (rt *Routes) checkUsername(localpart string) error {
	switch {
	case localpart == "":
		return httputil.InvalidUsername("User ID cannot be empty")
	case strings.HasPrefix(localpart, "_"):
		return httputil.InvalidUsername("User ID may not begin with '_'")
	case strings.Trim(localpart, "0123456789") == "":
		return httputil.InvalidUsername("Numeric user IDs are reserved for guest users")
	}
	if err := matrix.ValidLocalpart(localpart, rt.cfg.ServerName); err != nil {
		return httputil.InvalidUsername("Invalid username: %v", err)
	}
	if rt.exclusiveOwner(localpart) != nil {
		return httputil.Exclusive("This user ID is reserved by an application service")
	}
	return nil
}

// checkUsernameAvailable is checkUsername plus M_USER_IN_USE for a taken localpart.
func (rt *Routes) checkUsernameAvailable(ctx context.Context, localpart string) error {
	if err := rt.checkUsername(localpart); err != nil {
		return err
	}
	ok, err := rt.userAPI.LocalpartAvailable(ctx, localpart)
	if err != nil {
		return err
	}
	if !ok {
		return httputil.UserInUse("User ID already taken")
	}
	return nil
}

// generateLocalpart picks a free localpart for a user who names none. Purely numeric
// localparts are kept for guests, so it is "user-" and ten random digits.
func (rt *Routes) generateLocalpart(ctx context.Context) (string, error) {
	for i := 0; i < 10; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(1e10))
		if err != nil {
			return "", err
		}
		l := fmt.Sprintf("user-%010d", n)
		ok, err := rt.userAPI.LocalpartAvailable(ctx, l)
		if err != nil {
			return "", err
		}
		if ok {
			return l, nil
		}
	}
	return "", fmt.Errorf("could not generate a free localpart")
}

// registerAvailable serves GET /register/available.
func (rt *Routes) registerAvailable(r *http.Request, _ *userapi.Device) (any, error) {
	username := r.URL.Query().Get("username")
	if username == "" {
		return nil, httputil.MissingParam("Missing username")
	}
	if err := rt.checkUsernameAvailable(r.Context(), auth.LowerLocalpart(username)); err != nil {
		return nil, err
	}
	return map[string]bool{"available": true}, nil
}
