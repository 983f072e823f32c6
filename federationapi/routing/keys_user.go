package routing

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/matrix"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// Arrow 15 (federationapi → keyserver; numbered as docs/wiring.md, "Arrows from 14 on"):
// other servers read this server's users' device lists and keys and claim their one-time
// keys. Every request is X-Matrix authenticated (Authenticate, arrow 11 for the keys).
// Only this server's users are answered; other user IDs in a body are left out of the
// answer, as Synapse does.

// userKeyHandlers serve /user/devices/{userId}, /user/keys/query and /user/keys/claim.
type userKeyHandlers struct {
	cfg Config
	ks  keyapi.KeyServerAPI
}

// addUserKeyRoutes registers arrow 15's routes when the federationapi has a keyserver.
func addUserKeyRoutes(fed *mux.Router, cfg Config, keys skapi.ServerKeyAPI) {
	if cfg.KeyServer == nil {
		return
	}
	h := &userKeyHandlers{cfg: cfg, ks: cfg.KeyServer}
	authed := func(f http.HandlerFunc) http.Handler { return Authenticate(cfg, keys, f) }
	fed.Handle("/_matrix/federation/v1/user/devices/{userId}", authed(h.devices)).Methods(http.MethodGet)
	fed.Handle("/_matrix/federation/v1/user/keys/query", authed(h.query)).Methods(http.MethodPost)
	fed.Handle("/_matrix/federation/v1/user/keys/claim", authed(h.claim)).Methods(http.MethodPost)
}

func (h *userKeyHandlers) local(userID string) bool {
	server, ok := matrix.ServerNameOf(userID)
	return ok && server == h.cfg.ServerName && matrix.ValidUserID(userID)
}

// devices serves GET /user/devices/{userId}.
func (h *userKeyHandlers) devices(w http.ResponseWriter, r *http.Request) {
	userID := mux.Vars(r)["userId"]
	if !h.local(userID) {
		httputil.WriteError(w, httputil.InvalidParam("%q is not a user of this server", userID))
		return
	}
	resp, err := h.ks.FederationDeviceList(r.Context(), &keyapi.DeviceListRequest{UserID: userID})
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
}

// readJSON reads the body into v: 400 M_NOT_JSON when it is not JSON, M_BAD_JSON when its
// shape is wrong.
func (h *userKeyHandlers) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, me := httputil.ReadBody(r, h.cfg.MaxBodyBytes)
	if me != nil {
		httputil.WriteError(w, me)
		return false
	}
	if !json.Valid(raw) {
		httputil.WriteError(w, httputil.NotJSON("The body is not JSON"))
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		httputil.WriteError(w, httputil.BadJSON("Bad body: %v", err))
		return false
	}
	return true
}

// query serves POST /user/keys/query: {"device_keys": {userId: [deviceId…]}}.
func (h *userKeyHandlers) query(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DeviceKeys map[string][]string `json:"device_keys"`
	}
	if !h.readJSON(w, r, &body) {
		return
	}
	if body.DeviceKeys == nil {
		httputil.WriteError(w, httputil.BadJSON("device_keys is required"))
		return
	}
	req := &keyapi.QueryKeysRequest{DeviceKeys: map[string][]string{}} // no Requester: another server
	for u, devs := range body.DeviceKeys {
		if h.local(u) {
			req.DeviceKeys[u] = devs
		}
	}
	resp, err := h.ks.QueryKeys(r.Context(), req)
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"device_keys": resp.DeviceKeys, "master_keys": resp.MasterKeys,
		"self_signing_keys": resp.SelfSigningKeys})
}

// claim serves POST /user/keys/claim: {"one_time_keys": {userId: {deviceId: algorithm}}}.
func (h *userKeyHandlers) claim(w http.ResponseWriter, r *http.Request) {
	var body struct {
		OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
	}
	if !h.readJSON(w, r, &body) {
		return
	}
	if body.OneTimeKeys == nil {
		httputil.WriteError(w, httputil.BadJSON("one_time_keys is required"))
		return
	}
	req := &keyapi.ClaimKeysRequest{OneTimeKeys: map[string]map[string]string{}}
	for u, devs := range body.OneTimeKeys {
		if h.local(u) {
			req.OneTimeKeys[u] = devs
		}
	}
	resp, err := h.ks.ClaimKeys(r.Context(), req)
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"one_time_keys": resp.OneTimeKeys})
}
