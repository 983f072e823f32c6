package syncapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"
)

// getAsync performs an authenticated GET in a goroutine; the result arrives on the channel.
type getResult struct {
	code int
	body map[string]any
}

func (h *harness) getAsync(token, path string) <-chan getResult {
	out := make(chan getResult, 1)
	go func() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.router.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		out <- getResult{rec.Code, body}
	}()
	return out
}

// await fails the test if r does not arrive within a generous liveness bound (far above any
// expected latency; it only turns a hang into a failure).
func await[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no answer", what)
		panic("unreachable")
	}
}

// A long-polling /sync answers at once, empty, when shutdown begins (SetDraining), both
// while waiting for news and while waiting for an instance that is behind its token.
func TestDrainingAnswersLongPoll(t *testing.T) {
	forEachDB(t, func(t *testing.T, h *harness) {
		alice := user("alice")
		h.createRoom(room, alice)
		s := h.sync("alice_tok", "")
		draining := make(chan struct{})
		h.api.SetDraining(draining)

		done := make(chan syncResp, 2)
		go func() { done <- h.sync("alice_tok", "timeout=600000&since="+s.NextBatch) }()
		ahead := fmt.Sprintf("s%d_0_0_0", h.pos+5)
		go func() { done <- h.sync("alice_tok", "timeout=600000&since="+ahead) }()
		time.Sleep(100 * time.Millisecond) // let both reach their wait (either order passes)
		close(draining)
		got := map[string]bool{}
		for range 2 {
			r := await(t, done, "long-poll after draining")
			if len(r.Rooms.Join) != 0 {
				t.Fatalf("draining answer not empty: %+v", r.Rooms)
			}
			got[r.NextBatch] = true
		}
		if !got[s.NextBatch] || !got[ahead] {
			t.Fatalf("next_batch tokens %v, want %s and %s", got, s.NextBatch, ahead)
		}
		// After draining began, a new long-poll answers at once too.
		r := h.sync("alice_tok", "timeout=600000&since="+s.NextBatch)
		if r.NextBatch != s.NextBatch {
			t.Fatalf("sync during draining: %+v", r)
		}
	})
}

// A /messages from token, or a /context or /event event ID, that another (further ahead)
// instance served is waited for until this instance has caught up, instead of answering
// with a hole.
func TestRoomEndpointsWaitForCatchUp(t *testing.T) {
	forEachDB(t, func(t *testing.T, h *harness) {
		alice := user("alice")
		h.createRoom(room, alice)
		old := h.msg(room, alice, "old")
		esc := url.PathEscape(room)

		// Another instance already served the next two events: its /sync gave the client
		// this token and these event IDs.
		base := h.pos
		next1 := ev{id: "$ahead1", room: room, sender: alice, typ: "m.room.message", content: `{"body":"a1"}`}
		next2 := ev{id: "$ahead2", room: room, sender: alice, typ: "m.room.message", content: `{"body":"a2"}`}
		h.rs.mu.Lock()
		h.rs.events[next1.id], h.rs.events[next2.id] = next1.json(), next2.json()
		h.rs.mu.Unlock()
		from := fmt.Sprintf("t%d", base+2)

		msgs := h.getAsync("alice_tok", "/_matrix/client/v3/rooms/"+esc+"/messages?dir=b&limit=3&from="+from)
		evt := h.getAsync("alice_tok", "/_matrix/client/v3/rooms/"+esc+"/event/$ahead2")
		ctxt := h.getAsync("alice_tok", "/_matrix/client/v3/rooms/"+esc+"/context/$ahead2?limit=2")
		time.Sleep(100 * time.Millisecond) // let the requests reach their wait (either order passes)
		h.deliver(record(base+1, next1))
		h.deliver(record(base+2, next2))
		h.pos = base + 2

		m := await(t, msgs, "/messages")
		if m.code != 200 || !reflect.DeepEqual(idsOf(m.body["chunk"]), []string{"$ahead2", "$ahead1", old}) {
			t.Fatalf("/messages from an ahead token: %d %v", m.code, m.body)
		}
		e := await(t, evt, "/event")
		if e.code != 200 || e.body["event_id"] != "$ahead2" {
			t.Fatalf("/event of an event served elsewhere: %d %v", e.code, e.body)
		}
		c := await(t, ctxt, "/context")
		if c.code != 200 || c.body["event"].(map[string]any)["event_id"] != "$ahead2" ||
			!reflect.DeepEqual(idsOf(c.body["events_before"]), []string{"$ahead1"}) {
			t.Fatalf("/context of an event served elsewhere: %d %v", c.code, c.body)
		}

		// The wait is bounded: an event the roomserver knows but that never reaches this
		// instance's timeline is M_NOT_FOUND after CatchUpLimit; an ahead token answers
		// with what this instance has.
		h.api.Syncer.CatchUpLimit = 50 * time.Millisecond
		h.rs.mu.Lock()
		h.rs.events["$never"] = ev{id: "$never", room: room, sender: alice, typ: "m.room.message", content: `{}`}.json()
		h.rs.mu.Unlock()
		if code, b := h.get("alice_tok", "/_matrix/client/v3/rooms/"+esc+"/event/$never"); code != 404 {
			t.Fatalf("/event never arriving: %d %v", code, b)
		}
		code, b := h.get("alice_tok", fmt.Sprintf("/_matrix/client/v3/rooms/%s/messages?dir=b&limit=1&from=t%d", esc, h.pos+10))
		if code != 200 || !reflect.DeepEqual(idsOf(b["chunk"]), []string{"$ahead2"}) {
			t.Fatalf("/messages with a token never reached: %d %v", code, b)
		}
		// An event unknown everywhere is M_NOT_FOUND without waiting for anything.
		if code, b := h.get("alice_tok", "/_matrix/client/v3/rooms/"+esc+"/event/$nowhere"); code != 404 {
			t.Fatalf("/event unknown: %d %v", code, b)
		}
	})
}
