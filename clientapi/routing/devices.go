package routing

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/clientapi/auth"
	"github.com/axon-matrix/axon/internal/httputil"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// clientDevice is the spec's Device object.
type clientDevice struct {
	DeviceID    string  `json:"device_id"`
	DisplayName *string `json:"display_name,omitempty"`
	LastSeenIP  *string `json:"last_seen_ip,omitempty"`
	LastSeenTS  *int64  `json:"last_seen_ts,omitempty"`
}

func toClientDevice(d *userapi.Device) clientDevice {
	c := clientDevice{DeviceID: d.DeviceID}
	if d.DisplayName != "" {
		c.DisplayName = &d.DisplayName
	}
	if d.LastSeenIP != "" {
		c.LastSeenIP = &d.LastSeenIP
	}
	if d.LastSeenTS != 0 {
		c.LastSeenTS = &d.LastSeenTS
	}
	return c
}

// listDevices serves GET /devices.
func (rt *Routes) listDevices(r *http.Request, dev *userapi.Device) (any, error) {
	devs, err := rt.userAPI.ListDevices(r.Context(), dev.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]clientDevice, 0, len(devs))
	for i := range devs {
		out = append(out, toClientDevice(&devs[i]))
	}
	return map[string]any{"devices": out}, nil
}

// getDevice serves GET /devices/{deviceId}.
func (rt *Routes) getDevice(r *http.Request, dev *userapi.Device) (any, error) {
	d, err := rt.userAPI.GetDevice(r.Context(), dev.UserID, mux.Vars(r)["deviceId"])
	if err != nil {
		return nil, err
	}
	return toClientDevice(d), nil
}

// updateDevice serves PUT /devices/{deviceId}.
func (rt *Routes) updateDevice(r *http.Request, dev *userapi.Device) (any, error) {
	var req struct {
		DisplayName *string `json:"display_name"`
	}
	if err := readJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	ctx, id := r.Context(), mux.Vars(r)["deviceId"]
	d, err := rt.userAPI.GetDevice(ctx, dev.UserID, id)
	if err != nil {
		return nil, err
	}
	if req.DisplayName == nil {
		return empty, nil
	}
	if len(*req.DisplayName) > 100 {
		return nil, httputil.InvalidParam("Device display name is longer than 100 characters")
	}
	if err := rt.userAPI.UpdateDevice(ctx, d.UserID, d.DeviceID, *req.DisplayName); err != nil {
		return nil, err
	}
	return empty, nil
}

// deleteDevice serves DELETE /devices/{deviceId} (UIA with m.login.password).
func (rt *Routes) deleteDevice(r *http.Request, dev *userapi.Device) (any, error) {
	var req struct {
		Auth *auth.Dict `json:"auth"`
	}
	if err := readOptionalJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	ctx, id := r.Context(), mux.Vars(r)["deviceId"]
	if _, err := rt.userAPI.GetDevice(ctx, dev.UserID, id); err != nil {
		return nil, err
	}
	if err := rt.runUIA(ctx, "delete_device:"+id, dev.UserID, passwordFlows, req.Auth); err != nil {
		return nil, err
	}
	if err := rt.userAPI.DeleteDevices(ctx, dev.UserID, []string{id}); err != nil {
		return nil, err
	}
	rt.forgetDeviceKeys(r, &keyapi.DeleteDeviceKeysRequest{UserID: dev.UserID, DeviceIDs: []string{id}})
	return empty, nil
}

// deleteDevices serves POST /delete_devices (UIA with m.login.password).
func (rt *Routes) deleteDevices(r *http.Request, dev *userapi.Device) (any, error) {
	var req struct {
		Devices *[]string  `json:"devices"`
		Auth    *auth.Dict `json:"auth"`
	}
	if err := readJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	if req.Devices == nil {
		return nil, httputil.MissingParam("Missing devices")
	}
	ctx := r.Context()
	if err := rt.runUIA(ctx, "delete_devices", dev.UserID, passwordFlows, req.Auth); err != nil {
		return nil, err
	}
	if err := rt.userAPI.DeleteDevices(ctx, dev.UserID, *req.Devices); err != nil {
		return nil, err
	}
	rt.forgetDeviceKeys(r, &keyapi.DeleteDeviceKeysRequest{UserID: dev.UserID, DeviceIDs: *req.Devices})
	return empty, nil
}
