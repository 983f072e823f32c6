package routing

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// serverManagedAccountData are the types clients may not set through the account data
// API: the server manages them (m.fully_read through /read_markers, m.push_rules through
// the push rules API, MSC4010). The spec's answer is 405 with M_BAD_JSON.
var serverManagedAccountData = map[string]bool{"m.fully_read": true, "m.push_rules": true}

// accountDataTarget checks the path of an account data request and returns the room ID
// ("" for global data) and type.
func accountDataTarget(r *http.Request, dev *userapi.Device) (roomID, typ string, err error) {
	v := mux.Vars(r)
	if _, _, err := parseUserID(v["userId"]); err != nil {
		return "", "", err
	}
	if v["userId"] != dev.UserID {
		return "", "", httputil.Forbidden("Cannot access account data of other users")
	}
	if id, inRoom := v["roomId"]; inRoom {
		roomID = id
		if err := checkRoomID(roomID); err != nil {
			return "", "", err
		}
	}
	if err := checkEventType(v["type"]); err != nil {
		return "", "", err
	}
	return roomID, v["type"], nil
}

// getAccountData serves GET /user/{userId}[/rooms/{roomId}]/account_data/{type}.
func (rt *Routes) getAccountData(r *http.Request, dev *userapi.Device) (any, error) {
	roomID, typ, err := accountDataTarget(r, dev)
	if err != nil {
		return nil, err
	}
	if roomID == "" && typ == "m.push_rules" {
		rules, err := rt.loadPushRules(r.Context(), dev.UserID)
		if err != nil {
			return nil, err
		}
		return rules, nil
	}
	content, err := rt.userAPI.GetAccountData(r.Context(), dev.UserID, roomID, typ)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(content), nil
}

// putAccountData serves PUT /user/{userId}[/rooms/{roomId}]/account_data/{type}. The
// userapi stores it and stages it on topic 1 for the syncapi.
func (rt *Routes) putAccountData(r *http.Request, dev *userapi.Device) (any, error) {
	roomID, typ, err := accountDataTarget(r, dev)
	if err != nil {
		return nil, err
	}
	if serverManagedAccountData[typ] {
		return nil, &httputil.MatrixError{Status: http.StatusMethodNotAllowed, ErrCode: "M_BAD_JSON",
			Err: "Cannot set " + typ + " through this API"}
	}
	var content map[string]json.RawMessage
	raw, me := httputil.ReadBody(r, contentLimit)
	if me != nil {
		return nil, me
	}
	if me := httputil.DecodeJSONObject(raw, &content); me != nil {
		return nil, me
	}
	if err := rt.userAPI.SetAccountData(r.Context(), &userapi.AccountData{
		UserID: dev.UserID, RoomID: roomID, Type: typ, Content: raw}); err != nil {
		return nil, err
	}
	return empty, nil
}
