package routing

import (
	"net/http"
	"strings"

	asapi "github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/clientapi/auth"
	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// loginAppService serves POST /login with type m.login.application_service (the spec's
// "Appservice Login"; arrow 10 is not needed: the registrations are loaded here). The
// request carries the service's as_token as its access token and names, by an m.id.user
// identifier (or the legacy user field), the service's sender or a registered user of its
// user namespaces; the answer is a new device of that user with its own access token, as
// for a password login. Bridges use it to give their bot and their double-puppeted users
// real devices (for end-to-bridge encryption).
//
// Refusals: no token 401 M_MISSING_TOKEN, a token that is no service's as_token 401
// M_UNKNOWN_TOKEN (the spec says appservice login fails without a valid as_token); a
// user outside the service's namespaces, or claimed exclusively by another service, 403
// M_FORBIDDEN (the login endpoint's code for refused authentication data, and Synapse's);
// an unregistered or deactivated user 403 M_FORBIDDEN. The per-account login limit
// applies unless the service has rate_limited: false (the per-address limit too: see
// appServiceUnlimited); the failed-password limit does not, as no password is guessed.
func (rt *Routes) loginAppService(r *http.Request, req *loginRequest) (any, error) {
	token, me := httputil.AccessToken(r)
	if me != nil {
		return nil, me
	}
	reg := rt.appServices.ByASToken(token)
	if reg == nil {
		return nil, httputil.UnknownToken("Unknown application service token")
	}
	user, err := req.user()
	if err != nil {
		return nil, err
	}
	userID := auth.QualifyUserID(user, rt.cfg.ServerName) // lower-cased, as at registration
	if _, server, err := parseUserID(userID); err != nil || server != rt.cfg.ServerName {
		return nil, httputil.Forbidden("Application service can only log in local users")
	}
	if !reg.OwnsUser(userID) {
		return nil, httputil.Forbidden("User %s is not in the namespaces of application service %s", userID, reg.ID)
	}
	if o := rt.appServices.ExclusiveUserOwner(userID); o != nil && o != reg {
		return nil, httputil.Forbidden("User %s is reserved by another application service", userID)
	}
	if reg.IsRateLimited() {
		if err := rt.limits.loginAccount.Limit(strings.ToLower(userID)); err != nil {
			return nil, err
		}
	}
	ctx := r.Context()
	// The masquerading rule: the sender is created on first use, another user must be
	// registered and not deactivated.
	if _, err := rt.asTokens.Device(ctx, reg, asapi.Assertion{UserID: userID}); err != nil {
		return nil, err
	}
	dev, err := rt.userAPI.CreateDevice(ctx, &userapi.CreateDeviceRequest{
		UserID: userID, DeviceID: req.DeviceID, DisplayName: req.InitialDeviceDisplayName, IP: rt.clientIP(r)})
	if err != nil {
		if isNotFound(err) { // deleted since TokenAuth remembered it
			return nil, httputil.Forbidden("Application service has not registered this user (%s)", userID)
		}
		return nil, err
	}
	return rt.loginResponse(dev), nil
}
