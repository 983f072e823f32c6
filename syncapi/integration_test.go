package syncapi_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/testenv"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

// TestWithRealComponents runs the syncapi against the real roomserver and userapi, whose
// topic 2 and topic 1 records travel through their transactional outboxes and the
// embedded event log, on SQLite and Postgres; the syncapi reaches them directly (the
// monolith) and through their inthttp clients (the polylith: arrow 2 and the token checks).
func TestWithRealComponents(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			for _, impl := range impls {
				t.Run(impl, func(t *testing.T) { runWithRealComponents(t, impl, dsn(t)) })
			}
		})
	}
}

func runWithRealComponents(t *testing.T, impl, dsn string) {
	st := newRealStack(t, impl, dsn, 0)
	ctx, userAPI, rsAPI := st.ctx, st.userAPI, st.rsAPI
	aliceTok, bobTok := st.login("alice"), st.login("bob")
	get := st.get
	s0 := get(aliceTok, "/_matrix/client/v3/sync")
	since := s0["next_batch"].(string)

	cr, err := rsAPI.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: "@alice:test", Preset: "private_chat", Name: "Sync room",
		Invite: []string{"@bob:test"}})
	if err != nil {
		t.Fatal(err)
	}
	// Alice's long-poll wakes when the room's events arrive through the log.
	s1 := get(aliceTok, "/_matrix/client/v3/sync?timeout=10000&since="+since)
	join := s1["rooms"].(map[string]any)["join"].(map[string]any)
	if join[cr.RoomID] == nil {
		t.Fatalf("created room not in alice's sync: %v", s1["rooms"])
	}
	// Wait until the whole creation (create … invite) is visible.
	deadline := time.Now().Add(10 * time.Second)
	var bobInvite map[string]any
	for time.Now().Before(deadline) {
		sb := get(bobTok, "/_matrix/client/v3/sync")
		if inv := sb["rooms"].(map[string]any)["invite"].(map[string]any); inv[cr.RoomID] != nil {
			bobInvite = inv[cr.RoomID].(map[string]any)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if bobInvite == nil {
		t.Fatal("bob never saw the invite")
	}
	if _, err := rsAPI.PerformMembership(ctx, &rsapi.MembershipRequest{Action: "join", RoomID: cr.RoomID, Sender: "@bob:test"}); err != nil {
		t.Fatal(err)
	}
	sent, err := rsAPI.SendEvent(ctx, &rsapi.SendEventRequest{RoomID: cr.RoomID, Sender: "@bob:test", DeviceID: "X", TxnID: "1",
		Type: "m.room.message", Content: json.RawMessage(`{"msgtype":"m.text","body":"hello"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := userAPI.SetAccountData(ctx, &uapi.AccountData{UserID: "@alice:test", Type: "m.direct", Content: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// Alice's incremental syncs eventually carry bob's message and her account data.
	next := s1["next_batch"].(string)
	gotMsg, gotAD := false, false
	for time.Now().Before(deadline) && !(gotMsg && gotAD) {
		s := get(aliceTok, "/_matrix/client/v3/sync?timeout=2000&since="+next)
		next = s["next_batch"].(string)
		if jr, ok := s["rooms"].(map[string]any)["join"].(map[string]any)[cr.RoomID].(map[string]any); ok {
			for _, e := range jr["timeline"].(map[string]any)["events"].([]any) {
				gotMsg = gotMsg || e.(map[string]any)["event_id"] == sent.EventID
			}
		}
		for _, e := range s["account_data"].(map[string]any)["events"].([]any) {
			gotAD = gotAD || e.(map[string]any)["type"] == "m.direct"
		}
	}
	if !gotMsg || !gotAD {
		t.Fatalf("message seen %v, account data seen %v", gotMsg, gotAD)
	}
	// The event endpoint and members agree with the roomserver.
	ev := get(aliceTok, "/_matrix/client/v3/rooms/"+url.PathEscape(cr.RoomID)+"/event/"+url.PathEscape(sent.EventID))
	if ev["content"].(map[string]any)["body"] != "hello" || ev["room_id"] != cr.RoomID {
		t.Fatalf("event: %v", ev)
	}
	jm := get(aliceTok, "/_matrix/client/v3/rooms/"+url.PathEscape(cr.RoomID)+"/joined_members")
	if len(jm["joined"].(map[string]any)) != 2 {
		t.Fatalf("joined members: %v", jm)
	}
	// A redaction through the roomserver reaches /event.
	if _, err := rsAPI.SendEvent(ctx, &rsapi.SendEventRequest{RoomID: cr.RoomID, Sender: "@bob:test", Type: "m.room.redaction",
		Redacts: sent.EventID, Content: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	for time.Now().Before(deadline) {
		ev = get(aliceTok, "/_matrix/client/v3/rooms/"+url.PathEscape(cr.RoomID)+"/event/"+url.PathEscape(sent.EventID))
		if u, ok := ev["unsigned"].(map[string]any); ok && u["redacted_because"] != nil {
			if len(ev["content"].(map[string]any)) != 0 {
				t.Fatalf("redacted content kept: %v", ev)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redaction never reached the syncapi: %v", ev)
}
