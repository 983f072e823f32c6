package routing

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// toDeviceBodyLimit bounds a PUT /sendToDevice body (a key share to many devices is large;
// each message is bounded by eduapi.MaxToDeviceMessageSize). Over it: 413 M_TOO_LARGE.
const toDeviceBodyLimit = 3 << 20

// sendToDevice serves PUT /sendToDevice/{eventType}/{txnId} (arrow 6). Messages to "*"
// go to every device of that user; messages to devices that do not exist are dropped. The
// eduserver makes the transaction idempotent per sending device and sends other servers'
// users' messages over federation (topic 5).
func (rt *Routes) sendToDevice(r *http.Request, dev *userapi.Device) (any, error) {
	v := mux.Vars(r)
	if err := checkEventType(v["eventType"]); err != nil {
		return nil, err
	}
	if v["txnId"] == "" {
		return nil, httputil.InvalidParam("Empty transaction ID")
	}
	var body struct {
		Messages map[string]map[string]json.RawMessage `json:"messages"`
	}
	if err := readJSON(r, toDeviceBodyLimit, &body); err != nil {
		return nil, err
	}
	if body.Messages == nil {
		return nil, httputil.MissingParam("messages is required")
	}
	out := map[string]map[string]json.RawMessage{}
	for userID, byDevice := range body.Messages {
		_, server, err := parseUserID(userID)
		if err != nil {
			return nil, err
		}
		for _, content := range byDevice {
			if len(content) > eduapi.MaxToDeviceMessageSize {
				return nil, httputil.TooLarge("A to-device message is larger than %d bytes", eduapi.MaxToDeviceMessageSize)
			}
			var obj map[string]json.RawMessage
			if json.Unmarshal(content, &obj) != nil || obj == nil {
				return nil, httputil.BadJSON("Each to-device message must be a JSON object")
			}
		}
		if len(byDevice) == 0 {
			continue
		}
		if server != rt.cfg.ServerName {
			// Other servers' users: their server resolves "*" and drops unknown devices
			// (the eduserver sends them on topic 5).
			out[userID] = byDevice
			continue
		}
		devices, err := rt.userAPI.ListDevices(r.Context(), userID)
		var me *httputil.MatrixError
		if errors.As(err, &me) {
			continue // no such user
		}
		if err != nil {
			return nil, err
		}
		targets := map[string]json.RawMessage{}
		for _, d := range devices {
			if c, ok := byDevice[d.DeviceID]; ok {
				targets[d.DeviceID] = c
			} else if c, ok := byDevice["*"]; ok {
				targets[d.DeviceID] = c
			}
		}
		if len(targets) > 0 {
			out[userID] = targets
		}
	}
	if err := rt.eduAPI.SendToDevice(r.Context(), &eduapi.SendToDeviceRequest{Sender: dev.UserID, SenderDevice: dev.DeviceID,
		TxnID: v["txnId"], Type: v["eventType"], Messages: out}); err != nil {
		return nil, err
	}
	return empty, nil
}
