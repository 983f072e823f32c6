package routing

import (
	"context"
	"net/http"

	"github.com/sirupsen/logrus"

	"github.com/gorilla/mux"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// setTyping serves PUT /rooms/{roomId}/typing/{userId} (arrow 6): only for yourself, only
// in a room you are joined to. timeout (ms) is capped by the eduserver
// (eduapi.MaxTypingTimeout, 120 s; eduapi.DefaultTypingTimeout, 30 s, without one).
func (rt *Routes) setTyping(r *http.Request, dev *userapi.Device) (any, error) {
	v := mux.Vars(r)
	if err := checkRoomID(v["roomId"]); err != nil {
		return nil, err
	}
	if _, _, err := parseUserID(v["userId"]); err != nil {
		return nil, err
	}
	if v["userId"] != dev.UserID {
		return nil, httputil.Forbidden("Cannot set the typing state of another user")
	}
	var body struct {
		Typing  *bool  `json:"typing"`
		Timeout *int64 `json:"timeout"`
	}
	if err := readJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	if body.Typing == nil {
		return nil, httputil.BadJSON("typing is required")
	}
	var timeout int64
	if body.Timeout != nil {
		if *body.Timeout < 0 {
			return nil, httputil.InvalidParam("timeout must not be negative")
		}
		timeout = min(*body.Timeout, eduapi.MaxTypingTimeout.Milliseconds())
	}
	if err := rt.requireJoined(r.Context(), v["roomId"], dev.UserID); err != nil {
		return nil, err
	}
	if err := rt.eduAPI.SetTyping(r.Context(), &eduapi.SetTypingRequest{RoomID: v["roomId"], UserID: dev.UserID,
		Typing: *body.Typing, TimeoutMS: timeout}); err != nil {
		return nil, err
	}
	return empty, nil
}

// endTypingOnSend ends the sender's typing in the room when they send a message (arrow 6),
// as clients expect once the message is out. The eduserver answers from memory when the
// user is not typing; a failure only leaves the typing to its timeout.
func (rt *Routes) endTypingOnSend(ctx context.Context, roomID, userID, eventType string) {
	if rt.eduAPI == nil {
		return
	}
	switch eventType {
	case "m.room.message", "m.room.encrypted", "m.sticker":
	default:
		return
	}
	if err := rt.eduAPI.SetTyping(ctx, &eduapi.SetTypingRequest{RoomID: roomID, UserID: userID, Typing: false}); err != nil {
		logrus.WithError(err).WithField("room_id", roomID).Warn("clientapi: ending typing after a message")
	}
}
