package routing

import (
	"encoding/json"
	"net/http"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/setup"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// The end-to-end encryption key endpoints: arrow 14 (clientapi → keyserver; numbered as
// docs/wiring.md, "Arrows from 14 on"). The keyserver checks the keys; these handlers
// check the body's shape and who asks. Cross-signing is in crosssigning.go, key backup in
// roomkeys.go. GET /keys/changes is the syncapi's (topic 7, syncapi/routing/keychanges.go);
// the clientapi alone answers it 404 M_UNRECOGNIZED.

// addKeyRoutes registers the key endpoints when the clientapi has a keyserver.
func (rt *Routes) addKeyRoutes(routers Routers) {
	if rt.keyAPI == nil {
		return
	}
	const post = http.MethodPost
	r := routers.Client
	rt.client(r, post, "/keys/upload", guestOK, rt.uploadKeys)
	rt.client(r, post, "/keys/query", guestOK, rt.queryKeys)
	rt.client(r, post, "/keys/claim", guestOK, rt.claimKeys)
	rt.client(r, post, "/keys/device_signing/upload", user, rt.uploadDeviceSigningKeys)
	rt.client(r, post, "/keys/signatures/upload", user, rt.uploadSignatures)
	rt.addRoomKeysRoutes(r)
}

// uploadKeys is POST /keys/upload for the requesting device.
func (rt *Routes) uploadKeys(r *http.Request, dev *userapi.Device) (any, error) {
	var body struct {
		DeviceKeys   json.RawMessage            `json:"device_keys"`
		OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
		FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
	}
	if err := readJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	return rt.keyAPI.UploadKeys(r.Context(), &keyapi.UploadKeysRequest{UserID: dev.UserID, DeviceID: dev.DeviceID,
		DeviceKeys: body.DeviceKeys, OneTimeKeys: body.OneTimeKeys, FallbackKeys: body.FallbackKeys})
}

// queryKeys is POST /keys/query. timeout bounds the wait for other servers; local users
// answer at once.
func (rt *Routes) queryKeys(r *http.Request, dev *userapi.Device) (any, error) {
	var body struct {
		DeviceKeys map[string][]string `json:"device_keys"`
		Timeout    *int64              `json:"timeout"`
	}
	if err := readJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	if body.DeviceKeys == nil {
		return nil, httputil.BadJSON("device_keys is required")
	}
	if body.Timeout != nil && *body.Timeout < 0 {
		return nil, httputil.InvalidParam("timeout must not be negative")
	}
	req := &keyapi.QueryKeysRequest{Requester: dev.UserID, DeviceKeys: body.DeviceKeys}
	if body.Timeout != nil {
		req.TimeoutMS = max(*body.Timeout, 1) // bounds the wait for other servers (arrow 20)
	}
	return rt.keyAPI.QueryKeys(r.Context(), req)
}

// claimKeys is POST /keys/claim.
func (rt *Routes) claimKeys(r *http.Request, dev *userapi.Device) (any, error) {
	var body struct {
		OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
		Timeout     *int64                       `json:"timeout"`
	}
	if err := readJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	if body.OneTimeKeys == nil {
		return nil, httputil.BadJSON("one_time_keys is required")
	}
	if body.Timeout != nil && *body.Timeout < 0 {
		return nil, httputil.InvalidParam("timeout must not be negative")
	}
	req := &keyapi.ClaimKeysRequest{OneTimeKeys: body.OneTimeKeys}
	if body.Timeout != nil {
		req.TimeoutMS = max(*body.Timeout, 1) // bounds the wait for other servers (arrow 20)
	}
	return rt.keyAPI.ClaimKeys(r.Context(), req)
}

// forgetDeviceKeys tells the keyserver (arrow 14) that devices are gone, after the userapi
// deleted them: their keys must no longer be queried or claimed. A failure is logged, not
// answered: the devices are deleted already.
func (rt *Routes) forgetDeviceKeys(r *http.Request, req *keyapi.DeleteDeviceKeysRequest) {
	if rt.keyAPI == nil {
		return
	}
	if err := rt.keyAPI.DeleteDeviceKeys(r.Context(), req); err != nil {
		setup.LoggerFrom(r.Context()).WithError(err).WithField("user_id", req.UserID).Error("clientapi: forgetting deleted devices' keys failed")
	}
}
