package routing

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// fullyRead is the read marker's type: room account data (through the userapi, topic 1),
// not a receipt.
const fullyRead = "m.fully_read"

// postReceipt serves POST /rooms/{roomId}/receipt/{receiptType}/{eventId}: m.read and
// m.read.private go to the eduserver (arrow 6), optionally for a thread (thread_id: "main"
// or the thread root's event ID); m.fully_read sets the read marker. The user must be
// joined.
func (rt *Routes) postReceipt(r *http.Request, dev *userapi.Device) (any, error) {
	v := mux.Vars(r)
	if err := checkRoomID(v["roomId"]); err != nil {
		return nil, err
	}
	if err := checkEventID(v["eventId"]); err != nil {
		return nil, err
	}
	typ := v["receiptType"]
	if typ != eduapi.ReceiptRead && typ != eduapi.ReceiptReadPrivate && typ != fullyRead {
		return nil, httputil.InvalidParam("Unknown receipt type %q", typ)
	}
	var body struct {
		ThreadID *string `json:"thread_id"`
	}
	if err := readOptionalJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	var thread string
	if body.ThreadID != nil {
		thread = *body.ThreadID
		if typ == fullyRead {
			return nil, httputil.InvalidParam("thread_id is not allowed for m.fully_read")
		}
		if thread != "main" {
			if err := checkEventID(thread); err != nil {
				return nil, httputil.InvalidParam("thread_id must be \"main\" or an event ID")
			}
		}
	}
	if err := rt.requireJoined(r.Context(), v["roomId"], dev.UserID); err != nil {
		return nil, err
	}
	if typ == fullyRead {
		return empty, rt.setReadMarker(r.Context(), dev.UserID, v["roomId"], v["eventId"])
	}
	return empty, rt.eduAPI.SetReceipt(r.Context(), &eduapi.SetReceiptRequest{RoomID: v["roomId"], UserID: dev.UserID,
		Type: typ, EventID: v["eventId"], ThreadID: thread})
}

// postReadMarkers serves POST /rooms/{roomId}/read_markers: m.fully_read as the room's
// read marker (account data), m.read and m.read.private as unthreaded receipts.
func (rt *Routes) postReadMarkers(r *http.Request, dev *userapi.Device) (any, error) {
	roomID := mux.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return nil, err
	}
	var body map[string]json.RawMessage
	if err := readJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, k := range []string{fullyRead, eduapi.ReceiptRead, eduapi.ReceiptReadPrivate} {
		raw, ok := body[k]
		if !ok || string(raw) == "null" {
			continue
		}
		var id string
		if json.Unmarshal(raw, &id) != nil {
			return nil, httputil.BadJSON("%s must be an event ID", k)
		}
		if err := checkEventID(id); err != nil {
			return nil, err
		}
		ids[k] = id
	}
	if err := rt.requireJoined(r.Context(), roomID, dev.UserID); err != nil {
		return nil, err
	}
	if id, ok := ids[fullyRead]; ok {
		if err := rt.setReadMarker(r.Context(), dev.UserID, roomID, id); err != nil {
			return nil, err
		}
	}
	for _, typ := range []string{eduapi.ReceiptRead, eduapi.ReceiptReadPrivate} {
		if id, ok := ids[typ]; ok {
			if err := rt.eduAPI.SetReceipt(r.Context(), &eduapi.SetReceiptRequest{RoomID: roomID, UserID: dev.UserID,
				Type: typ, EventID: id}); err != nil {
				return nil, err
			}
		}
	}
	return empty, nil
}

// setReadMarker stores the room's m.fully_read account data (the userapi stages it on
// topic 1, so /sync shows it in the room's account_data).
func (rt *Routes) setReadMarker(ctx context.Context, userID, roomID, eventID string) error {
	content, err := json.Marshal(map[string]string{"event_id": eventID})
	if err != nil {
		return err
	}
	return rt.userAPI.SetAccountData(ctx, &userapi.AccountData{UserID: userID, RoomID: roomID, Type: fullyRead, Content: content})
}
