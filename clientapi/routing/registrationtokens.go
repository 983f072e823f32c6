package routing

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Registration tokens (spec 1.2, m.login.registration_token): the client-server validity
// endpoint, and Synapse's admin API for creating and managing them
// (/_synapse/admin/v1/registration_tokens…), so Synapse's admin tools work as they are.
// The tokens live in the userapi's database.

// registrationTokenValidity serves GET
// /_matrix/client/v1/register/m.login.registration_token/validity?token=….
func (rt *Routes) registrationTokenValidity(r *http.Request, _ *userapi.Device) (any, error) {
	if rt.cfg.RegistrationMode != config.RegistrationOpen && rt.cfg.RegistrationMode != config.RegistrationToken {
		return nil, httputil.Forbidden("Registration is not enabled on this homeserver.")
	}
	token := r.URL.Query().Get("token")
	if token == "" {
		return nil, httputil.MissingParam("Missing token")
	}
	valid, err := rt.userAPI.RegistrationTokenValid(r.Context(), token)
	if err != nil {
		return nil, err
	}
	return map[string]bool{"valid": valid}, nil
}

// addRegistrationTokenAdminRoutes registers Synapse's registration token admin API on the
// /_synapse/admin router.
func (rt *Routes) addRegistrationTokenAdminRoutes(a *mux.Router) {
	rt.route(a, http.MethodGet, "/v1/registration_tokens", user, rt.admin(rt.listRegistrationTokens))
	rt.route(a, http.MethodPost, "/v1/registration_tokens/new", user, rt.admin(rt.newRegistrationToken))
	rt.route(a, http.MethodGet, "/v1/registration_tokens/{token}", user, rt.admin(rt.getRegistrationToken))
	rt.route(a, http.MethodPut, "/v1/registration_tokens/{token}", user, rt.admin(rt.updateRegistrationToken))
	rt.route(a, http.MethodDelete, "/v1/registration_tokens/{token}", user, rt.admin(rt.deleteRegistrationToken))
}

// admin lets only server admins (accounts of type admin: axon-create-account -admin, or
// shared-secret registration with admin=true) call h; others get 403 M_FORBIDDEN.
func (rt *Routes) admin(h handlerFunc) handlerFunc {
	return func(r *http.Request, dev *userapi.Device) (any, error) {
		if dev == nil || dev.AccountType != userapi.AccountTypeAdmin {
			return nil, httputil.Forbidden("You are not a server admin")
		}
		return h(r, dev)
	}
}

// listRegistrationTokens serves GET /_synapse/admin/v1/registration_tokens[?valid=true|false].
func (rt *Routes) listRegistrationTokens(r *http.Request, _ *userapi.Device) (any, error) {
	var valid *bool
	if v, ok := r.URL.Query()["valid"]; ok {
		switch v[0] {
		case "true":
			t := true
			valid = &t
		case "false":
			f := false
			valid = &f
		default:
			return nil, httputil.InvalidParam("valid must be true or false")
		}
	}
	tokens, err := rt.userAPI.ListRegistrationTokens(r.Context(), valid)
	if err != nil {
		return nil, err
	}
	if tokens == nil {
		tokens = []userapi.RegistrationToken{}
	}
	return map[string]any{"registration_tokens": tokens}, nil
}

// newRegistrationToken serves POST /_synapse/admin/v1/registration_tokens/new.
func (rt *Routes) newRegistrationToken(r *http.Request, _ *userapi.Device) (any, error) {
	var body map[string]json.RawMessage
	if err := readOptionalJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	req := &userapi.NewRegistrationTokenRequest{}
	if raw, ok := body["token"]; ok {
		if err := json.Unmarshal(raw, &req.Token); err != nil {
			return nil, httputil.InvalidParam("token must be a string")
		}
		if req.Token == "" {
			return nil, httputil.InvalidParam("token must not be empty")
		}
	}
	if raw, ok := body["length"]; ok {
		if req.Token != "" {
			return nil, httputil.InvalidParam("length and token cannot both be given")
		}
		if err := json.Unmarshal(raw, &req.Length); err != nil || req.Length < 1 {
			return nil, httputil.InvalidParam("length must be an integer between 1 and 64")
		}
	}
	var err error
	if req.UsesAllowed, _, err = optionalInt(body, "uses_allowed"); err != nil {
		return nil, err
	}
	if req.ExpiryTime, _, err = optionalInt(body, "expiry_time"); err != nil {
		return nil, err
	}
	return rt.userAPI.CreateRegistrationToken(r.Context(), req)
}

// optionalInt reads an integer-or-null field of body: nil for null or absent, and whether
// it was present at all.
func optionalInt(body map[string]json.RawMessage, key string) (*int64, bool, error) {
	raw, ok := body[key]
	if !ok {
		return nil, false, nil
	}
	var v *int64
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, true, httputil.InvalidParam("%s must be an integer or null", key)
	}
	return v, true, nil
}

// getRegistrationToken serves GET /_synapse/admin/v1/registration_tokens/{token}.
func (rt *Routes) getRegistrationToken(r *http.Request, _ *userapi.Device) (any, error) {
	return rt.userAPI.GetRegistrationToken(r.Context(), mux.Vars(r)["token"])
}

// updateRegistrationToken serves PUT /_synapse/admin/v1/registration_tokens/{token}: the
// fields given change (null: no limit), the others stay.
func (rt *Routes) updateRegistrationToken(r *http.Request, _ *userapi.Device) (any, error) {
	var body map[string]json.RawMessage
	if err := readOptionalJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	req := &userapi.UpdateRegistrationTokenRequest{Token: mux.Vars(r)["token"]}
	var err error
	if req.UsesAllowed, req.SetUsesAllowed, err = optionalInt(body, "uses_allowed"); err != nil {
		return nil, err
	}
	if req.ExpiryTime, req.SetExpiryTime, err = optionalInt(body, "expiry_time"); err != nil {
		return nil, err
	}
	return rt.userAPI.UpdateRegistrationToken(r.Context(), req)
}

// deleteRegistrationToken serves DELETE /_synapse/admin/v1/registration_tokens/{token}.
func (rt *Routes) deleteRegistrationToken(r *http.Request, _ *userapi.Device) (any, error) {
	if err := rt.userAPI.DeleteRegistrationToken(r.Context(), mux.Vars(r)["token"]); err != nil {
		return nil, err
	}
	return empty, nil
}
