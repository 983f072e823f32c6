package routing

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// TestHistoryEndpoints: /event_auth, /backfill (newest first, limit, visibility) and
// /timestamp_to_event against a real roomserver.
func TestHistoryEndpoints(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	alice, bob := "@alice:"+us, "@bob:remote.example"
	// history_visibility joined: what was said before bob's server joined is redacted for it.
	cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: "10",
		InitialState: []rsapi.InitialStateEvt{{Type: "m.room.history_visibility", Content: json.RawMessage(`{"history_visibility":"joined"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	room := cr.RoomID
	say := func(body string) string {
		t.Helper()
		resp, err := e.rs.SendEvent(ctx, &rsapi.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.message",
			Content: json.RawMessage(`{"msgtype":"m.text","body":"` + body + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return resp.EventID
	}
	say("before bob")
	joinRemote(t, e, room, bob)
	m1, m2, m3 := say("one"), say("two"), say("three")
	r := url.PathEscape(room)

	// event_auth: create, power levels, alice's join; not the event itself.
	var ea struct {
		AuthChain []json.RawMessage `json:"auth_chain"`
	}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/event_auth/"+r+"/"+url.PathEscape(m3), nil, &ea); s != 200 {
		t.Fatalf("event_auth: %d", s)
	}
	types := map[string]bool{}
	for _, js := range ea.AuthChain {
		var h struct{ Type, EventID string }
		_ = json.Unmarshal(js, &h)
		types[h.Type] = true
		if strings.Contains(string(js), `"three"`) {
			t.Fatal("event_auth holds the event itself")
		}
	}
	if !types["m.room.create"] || !types["m.room.power_levels"] || !types["m.room.member"] {
		t.Fatalf("event_auth chain types: %v", types)
	}
	var bad map[string]any
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/event_auth/"+r+"/"+url.PathEscape("$nope"), nil, &bad); s != 404 || bad["errcode"] != "M_NOT_FOUND" {
		t.Fatalf("event_auth of an unknown event: %d %v", s, bad)
	}

	// backfill: newest first, from and including v.
	type txn struct {
		Origin string            `json:"origin"`
		PDUs   []json.RawMessage `json:"pdus"`
	}
	bodies := func(tx txn) []string {
		var out []string
		for _, js := range tx.PDUs {
			var ev struct {
				Type    string `json:"type"`
				Content struct {
					Body string `json:"body"`
				} `json:"content"`
			}
			_ = json.Unmarshal(js, &ev)
			if ev.Type == "m.room.message" {
				out = append(out, ev.Content.Body)
			}
		}
		return out
	}
	var bf txn
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/backfill/"+r+"?v="+url.QueryEscape(m3)+"&limit=2", nil, &bf); s != 200 || bf.Origin != us {
		t.Fatalf("backfill: %d %+v", s, bf)
	}
	if got := bodies(bf); strings.Join(got, ",") != "three,two" || len(bf.PDUs) != 2 {
		t.Fatalf("backfill limit 2: %v (%d pdus)", got, len(bf.PDUs))
	}
	bf = txn{}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/backfill/"+r+"?v="+url.QueryEscape(m2)+"&limit=100", nil, &bf); s != 200 {
		t.Fatalf("backfill all: %d", s)
	}
	// The message before bob's server joined is there, redacted (no body).
	if got := bodies(bf); strings.Join(got, ",") != "two,one," {
		t.Fatalf("backfill all: %v", got)
	}
	var last struct{ Type string }
	_ = json.Unmarshal(bf.PDUs[len(bf.PDUs)-1], &last)
	if last.Type != "m.room.create" {
		t.Fatalf("backfill ends with %s, not the create event", last.Type)
	}
	for _, c := range []struct{ uri, code string }{
		{"/_matrix/federation/v1/backfill/" + r + "?limit=5", "M_MISSING_PARAM"},
		{"/_matrix/federation/v1/backfill/" + r + "?v=" + url.QueryEscape(m1), "M_MISSING_PARAM"},
		{"/_matrix/federation/v1/backfill/" + r + "?v=" + url.QueryEscape(m1) + "&limit=x", "M_INVALID_PARAM"},
	} {
		var body map[string]any
		if s := e.call(t, e.remote, "remote.example", "GET", c.uri, nil, &body); s != 400 || body["errcode"] != c.code {
			t.Errorf("%s: %d %v", c.uri, s, body)
		}
	}
	// A server with no member in the room reads nothing.
	var body map[string]any
	if s := e.call(t, e.stranger, "stranger.example", "GET", "/_matrix/federation/v1/backfill/"+r+"?v="+url.QueryEscape(m3)+"&limit=5", nil, &body); s != 403 || body["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("stranger's backfill: %d %v", s, body)
	}

	// timestamp_to_event.
	ev3, err := e.rs.QueryEvent(ctx, m3)
	if err != nil {
		t.Fatal(err)
	}
	var h3 struct {
		TS int64 `json:"origin_server_ts"`
	}
	_ = json.Unmarshal(ev3.Event, &h3)
	var te struct {
		EventID string `json:"event_id"`
		TS      int64  `json:"origin_server_ts"`
		ErrCode string `json:"errcode"`
	}
	tsURI := func(ts int64, dir string) string {
		return "/_matrix/federation/v1/timestamp_to_event/" + r + "?ts=" + strconv.FormatInt(ts, 10) + "&dir=" + dir
	}
	if s := e.call(t, e.remote, "remote.example", "GET", tsURI(time.Now().Add(time.Hour).UnixMilli(), "b"), nil, &te); s != 200 || te.EventID != m3 || te.TS != h3.TS {
		t.Fatalf("timestamp_to_event backwards from the future: %d %+v", s, te)
	}
	te.EventID = ""
	if s := e.call(t, e.remote, "remote.example", "GET", tsURI(0, "f"), nil, &te); s != 200 || te.EventID == "" {
		t.Fatalf("timestamp_to_event forwards from 0: %d %+v", s, te)
	}
	if got, err := e.rs.QueryEvent(ctx, te.EventID); err != nil || !strings.Contains(string(got.Event), `"m.room.create"`) {
		t.Fatalf("first event is not the create event: %v", err)
	}
	if s := e.call(t, e.remote, "remote.example", "GET", tsURI(time.Now().Add(time.Hour).UnixMilli(), "f"), nil, &te); s != 404 || te.ErrCode != "M_NOT_FOUND" {
		t.Fatalf("timestamp_to_event past the end: %d %+v", s, te)
	}
	if s := e.call(t, e.remote, "remote.example", "GET", tsURI(0, "x"), nil, &te); s != 400 || te.ErrCode != "M_INVALID_PARAM" {
		t.Fatalf("timestamp_to_event dir x: %d %+v", s, te)
	}
}

// TestPublicRoomsEndpoint: GET and POST /publicRooms list the rooms published in the
// directory, filtered and paged.
func TestPublicRoomsEndpoint(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	alice := "@alice:" + us
	var ids []string
	for _, name := range []string{"Gardening", "Cooking", "Hidden"} {
		cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, cr.RoomID)
		if name != "Hidden" {
			if err := e.rs.SetRoomVisibility(ctx, cr.RoomID, alice, "public"); err != nil {
				t.Fatal(err)
			}
		}
	}
	type page struct {
		Chunk []struct {
			RoomID string `json:"room_id"`
			Name   string `json:"name"`
		} `json:"chunk"`
		NextBatch string `json:"next_batch"`
		Total     int    `json:"total_room_count_estimate"`
	}
	var p page
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/publicRooms", nil, &p); s != 200 || len(p.Chunk) != 2 || p.Total != 2 {
		t.Fatalf("GET publicRooms: %d %+v", s, p)
	}
	p = page{}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/publicRooms?limit=1", nil, &p); s != 200 || len(p.Chunk) != 1 || p.NextBatch == "" {
		t.Fatalf("GET publicRooms limit 1: %d %+v", s, p)
	}
	p = page{}
	if s := e.call(t, e.remote, "remote.example", "POST", "/_matrix/federation/v1/publicRooms",
		map[string]any{"filter": map[string]any{"generic_search_term": "cook"}}, &p); s != 200 || len(p.Chunk) != 1 || p.Chunk[0].Name != "Cooking" {
		t.Fatalf("POST publicRooms filtered: %d %+v", s, p)
	}
	p = page{}
	if s := e.call(t, e.remote, "remote.example", "POST", "/_matrix/federation/v1/publicRooms",
		map[string]any{"filter": map[string]any{"room_types": []string{"m.space"}}}, &p); s != 200 || len(p.Chunk) != 0 {
		t.Fatalf("POST publicRooms spaces only: %d %+v", s, p)
	}
	p = page{}
	if s := e.call(t, e.remote, "remote.example", "POST", "/_matrix/federation/v1/publicRooms",
		map[string]any{"filter": map[string]any{"room_types": []any{nil}}}, &p); s != 200 || len(p.Chunk) != 2 {
		t.Fatalf("POST publicRooms rooms without a type: %d %+v", s, p)
	}
	if s, _ := e.do(t, "GET", "/_matrix/federation/v1/publicRooms", nil); s != 401 {
		t.Fatalf("unsigned publicRooms: %d", s)
	}
}
