package routing

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// readContent reads an event content body: a JSON object of at most 65,536 bytes.
func readContent(r *http.Request) (json.RawMessage, error) {
	raw, me := httputil.ReadBody(r, contentLimit)
	if me != nil {
		return nil, me
	}
	var obj map[string]json.RawMessage
	if me := httputil.DecodeJSONObject(raw, &obj); me != nil {
		return nil, me
	}
	return raw, nil
}

// sendMessage serves PUT /rooms/{roomId}/send/{eventType}/{txnId}. The roomserver makes a
// repeated transaction ID of the same device return the first event's ID (arrow 4).
func (rt *Routes) sendMessage(r *http.Request, dev *userapi.Device) (any, error) {
	v := mux.Vars(r)
	if err := checkRoomID(v["roomId"]); err != nil {
		return nil, err
	}
	if err := checkEventType(v["eventType"]); err != nil {
		return nil, err
	}
	if v["txnId"] == "" {
		return nil, httputil.InvalidParam("Empty transaction ID")
	}
	if dev.AccountType == userapi.AccountTypeGuest && v["eventType"] != "m.room.message" && v["eventType"] != "m.room.encrypted" {
		return nil, &httputil.MatrixError{Status: http.StatusForbidden, ErrCode: "M_GUEST_ACCESS_FORBIDDEN",
			Err: "Guests may only send messages"}
	}
	content, err := readContent(r)
	if err != nil {
		return nil, err
	}
	ts, err := rt.massagedTS(r) // appservice.go: ?ts= for application services
	if err != nil {
		return nil, err
	}
	resp, err := rt.rsAPI.SendEvent(r.Context(), &rsapi.SendEventRequest{RoomID: v["roomId"], Sender: dev.UserID,
		DeviceID: dev.DeviceID, TxnID: v["txnId"], Type: v["eventType"], Content: content, Timestamp: ts})
	if err != nil {
		return nil, err
	}
	rt.endTypingOnSend(r.Context(), v["roomId"], dev.UserID, v["eventType"]) // typing.go
	return map[string]string{"event_id": resp.EventID}, nil
}

// sendState serves PUT /rooms/{roomId}/state/{eventType}[/{stateKey}].
func (rt *Routes) sendState(r *http.Request, dev *userapi.Device) (any, error) {
	v := mux.Vars(r)
	if err := checkRoomID(v["roomId"]); err != nil {
		return nil, err
	}
	if err := checkEventType(v["eventType"]); err != nil {
		return nil, err
	}
	content, err := readContent(r)
	if err != nil {
		return nil, err
	}
	stateKey := v["stateKey"]
	if v["eventType"] == "m.room.member" {
		// Membership has its own endpoints with their own checks; a member event sent here
		// must still name a valid user.
		if _, _, err := parseUserID(stateKey); err != nil {
			return nil, err
		}
	}
	ts, err := rt.massagedTS(r) // appservice.go: ?ts= for application services
	if err != nil {
		return nil, err
	}
	resp, err := rt.rsAPI.SendEvent(r.Context(), &rsapi.SendEventRequest{RoomID: v["roomId"], Sender: dev.UserID,
		DeviceID: dev.DeviceID, Type: v["eventType"], StateKey: &stateKey, Content: content, Timestamp: ts})
	if err != nil {
		return nil, err
	}
	return map[string]string{"event_id": resp.EventID}, nil
}

// redact serves PUT /rooms/{roomId}/redact/{eventId}/{txnId}.
func (rt *Routes) redact(r *http.Request, dev *userapi.Device) (any, error) {
	v := mux.Vars(r)
	if err := checkRoomID(v["roomId"]); err != nil {
		return nil, err
	}
	if err := checkEventID(v["eventId"]); err != nil {
		return nil, err
	}
	var req struct {
		Reason *string `json:"reason"`
	}
	if err := readOptionalJSON(r, contentLimit, &req); err != nil {
		return nil, err
	}
	content := map[string]any{}
	if req.Reason != nil {
		content["reason"] = *req.Reason
	}
	// From room version 11 "redacts" also goes in the content; the roomserver places it
	// where the room's version wants it, so the clientapi passes it in Redacts only.
	raw, _ := json.Marshal(content)
	resp, err := rt.rsAPI.SendEvent(r.Context(), &rsapi.SendEventRequest{RoomID: v["roomId"], Sender: dev.UserID,
		DeviceID: dev.DeviceID, TxnID: v["txnId"], Type: "m.room.redaction", Content: raw, Redacts: v["eventId"]})
	if err != nil {
		return nil, err
	}
	return map[string]string{"event_id": resp.EventID}, nil
}
