package routing

import (
	"net/url"
	"strconv"
	"testing"
	"time"
)

// TestTimestampToEvent: GET /v1/rooms/{roomId}/timestamp_to_event for members only, with
// ts and dir checked, answered from the roomserver's events.
func TestTimestampToEvent(t *testing.T) {
	forEachImpl(t, func(t *testing.T, newHarness harnessFunc) {
		h := newHarness(t)
		alice, eve := h.register("alice"), h.register("eve")
		room := h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice.token, map[string]any{"preset": "private_chat"}), 200).str("room_id")
		sent := h.must(h.do("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/send/m.room.message/t1", alice.token,
			map[string]any{"msgtype": "m.text", "body": "hi"}), 200).str("event_id")
		path := func(ts int64, dir string) string {
			return "/_matrix/client/v1/rooms/" + url.PathEscape(room) + "/timestamp_to_event?ts=" + strconv.FormatInt(ts, 10) + "&dir=" + dir
		}
		future := time.Now().Add(time.Hour).UnixMilli()
		if r := h.must(h.do("GET", path(future, "b"), alice.token, nil), 200); r.str("event_id") != sent || r.body["origin_server_ts"] == nil {
			t.Fatalf("backwards from the future: %s", r.raw)
		}
		if r := h.must(h.do("GET", path(0, "f"), alice.token, nil), 200); r.str("event_id") == "" || r.str("event_id") == sent {
			t.Fatalf("forwards from 0 (the create event): %s", r.raw)
		}
		h.must(h.do("GET", path(future, "f"), alice.token, nil), 404, "M_NOT_FOUND")
		h.must(h.do("GET", path(0, "x"), alice.token, nil), 400, "M_INVALID_PARAM")
		h.must(h.do("GET", "/_matrix/client/v1/rooms/"+url.PathEscape(room)+"/timestamp_to_event?dir=f", alice.token, nil), 400, "M_MISSING_PARAM")
		h.must(h.do("GET", path(0, "f"), eve.token, nil), 403, "M_FORBIDDEN")
		h.must(h.do("GET", path(0, "f"), "", nil), 401, "M_MISSING_TOKEN")
	})
}
