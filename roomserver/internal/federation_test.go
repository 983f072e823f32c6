package internal

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"slices"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/roomserver/api"
)

// pair is two roomservers of different servers, a.test and b.test, where b joins rooms of
// a through a fake federationsender calling a's make_join/send_join (arrows 17 and 3).
type pair struct {
	a, b         *testRS
	sender       *fakeSender
	seenA, seenB int // topic 6 records already relayed
}

func forEachPair(t *testing.T, fn func(t *testing.T, p *pair)) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			p := &pair{}
			p.a = newNamedRoomserver(t, dsn(t), "a.test")
			p.sender = &fakeSender{t: t, resident: p.a, joiner: func() *testRS { return p.b }}
			p.b = newNamedRoomserver(t, dsn(t), "b.test", WithFederationSender(p.sender))
			fn(t, p)
		})
	}
}

// toB and toA relay topic 6 records and fail on any refusal.
func (p *pair) toB(t *testing.T) {
	t.Helper()
	for _, r := range relay(t, p.a, p.b, &p.seenA) {
		if r.Error != "" {
			t.Fatalf("b refused %s: %s", r.EventID, r.Error)
		}
	}
}

func (p *pair) toA(t *testing.T) {
	t.Helper()
	for _, r := range relay(t, p.b, p.a, &p.seenB) {
		if r.Error != "" {
			t.Fatalf("a refused %s: %s", r.EventID, r.Error)
		}
	}
}

func currentStateMap(t *testing.T, rs *testRS, roomID string) map[string]string {
	t.Helper()
	evs, err := rs.QueryCurrentState(context.Background(), roomID, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, js := range evs {
		var e struct {
			Type     string          `json:"type"`
			StateKey string          `json:"state_key"`
			Content  json.RawMessage `json:"content"`
		}
		_ = json.Unmarshal(js, &e)
		out[e.Type+"|"+e.StateKey] = string(e.Content)
	}
	return out
}

// TestRemoteJoinAndExchange: a room created on a.test is joined from b.test (every room
// version family: v1 server event IDs, v10, v12 room IDs from the create event); b stores
// the state and shows the join on topic 2 with the whole state; then messages go both ways
// through topic 6 and arrow 3, each side's topic 6 naming the other as destination.
func TestRemoteJoinAndExchange(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		alice, bob := "@alice:a.test", "@bob:b.test"
		for _, version := range []string{"1", "10", "12"} {
			t.Run("v"+version, func(t *testing.T) {
				cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: version, Preset: "public_chat", Name: "shared"})
				if err != nil {
					t.Fatal(err)
				}
				room := cr.RoomID
				if got := len(p.a.fedEvents(t)) - p.seenA; got != 0 {
					t.Fatalf("local-only room staged %d topic 6 records", got)
				}
				p.seenA = len(p.a.fedEvents(t))
				before := len(p.b.outbox.roomEvents(t))
				callsBefore := p.sender.calls
				resp, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob,
					ServerNames: []string{"a.test"}, Content: json.RawMessage(`{"displayname":"Bob"}`)})
				if err != nil {
					t.Fatal(err)
				}
				if m, id, err := p.b.QueryMembership(ctx, room, bob); err != nil || m != "join" || id != resp.EventID {
					t.Fatalf("b: bob's membership %q %q %v", m, id, err)
				}
				if m, _, err := p.a.QueryMembership(ctx, room, bob); err != nil || m != "join" {
					t.Fatalf("a: bob's membership %q %v", m, err)
				}
				sa, sb := currentStateMap(t, p.a, room), currentStateMap(t, p.b, room)
				if len(sa) != len(sb) || sb["m.room.name|"] != sa["m.room.name|"] || sb["m.room.member|"+bob] == "" {
					t.Fatalf("state differs: a %v, b %v", sa, sb)
				}
				// Topic 2 on b: the join adds the whole state.
				outs := p.b.outbox.roomEvents(t)[before:]
				if len(outs) != 1 || outs[0].NewRoomEvent == nil || outs[0].NewRoomEvent.EventID != resp.EventID ||
					len(outs[0].NewRoomEvent.AddsStateEventIDs) != len(sb) {
					t.Fatalf("b's topic 2 after the join: %+v", outs)
				}
				for _, id := range outs[0].NewRoomEvent.AddsStateEventIDs {
					if _, err := p.b.QueryEvent(ctx, id); err != nil {
						t.Fatalf("state event %s not served: %v", id, err)
					}
				}
				// b's join goes to a (which has it already: accepted again).
				p.toA(t)

				// a → b.
				m1, err := p.a.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.message",
					Content: json.RawMessage(`{"msgtype":"m.text","body":"hi bob"}`)})
				if err != nil {
					t.Fatal(err)
				}
				fa := p.a.fedEvents(t)
				if last := fa[len(fa)-1]; last.EventID != m1.EventID || !slices.Equal(last.Destinations, []string{"b.test"}) {
					t.Fatalf("a's topic 6: %+v", last)
				}
				p.toB(t)
				if _, err := p.b.QueryEvent(ctx, m1.EventID); err != nil {
					t.Fatalf("b lacks a's message: %v", err)
				}
				// b → a.
				m2, err := p.b.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: bob, Type: "m.room.message",
					Content: json.RawMessage(`{"msgtype":"m.text","body":"hi alice"}`)})
				if err != nil {
					t.Fatal(err)
				}
				fb := p.b.fedEvents(t)
				if last := fb[len(fb)-1]; last.EventID != m2.EventID || !slices.Equal(last.Destinations, []string{"a.test"}) {
					t.Fatalf("b's topic 6: %+v", last)
				}
				p.toA(t)
				if _, err := p.a.QueryEvent(ctx, m2.EventID); err != nil {
					t.Fatalf("a lacks b's message: %v", err)
				}
				// A second user of b joins: b holds the room now, so the join is built
				// locally and sent to a.
				carol := "@carol:b.test"
				if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: carol}); err != nil {
					t.Fatal(err)
				}
				if p.sender.calls != callsBefore+1 {
					t.Fatalf("the second join went through the federationsender")
				}
				p.toA(t)
				if m, _, err := p.a.QueryMembership(ctx, room, carol); err != nil || m != "join" {
					t.Fatalf("a: carol is %q (%v)", m, err)
				}
				// Received events are not relayed: a staged nothing for b's message.
				if n := len(p.a.fedEvents(t)); n != p.seenA {
					t.Fatalf("a relayed a received event")
				}
				// State forks: both change the topic at once, then exchange; both resolve
				// to the same current state.
				// Bob may set the topic (v12: the creator is not listed).
				pl := `{"users":{"@alice:a.test":100,"@bob:b.test":50},"state_default":50,"events_default":0}`
				if version == "12" {
					pl = `{"users":{"@bob:b.test":50},"state_default":50,"events_default":0}`
				}
				if _, err := p.a.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.power_levels",
					StateKey: strPtr(""), Content: json.RawMessage(pl)}); err != nil {
					t.Fatal(err)
				}
				p.toB(t)
				if _, err := p.a.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.topic",
					StateKey: strPtr(""), Content: json.RawMessage(`{"topic":"from a"}`)}); err != nil {
					t.Fatal(err)
				}
				if _, err := p.b.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: bob, Type: "m.room.topic",
					StateKey: strPtr(""), Content: json.RawMessage(`{"topic":"from b"}`)}); err != nil {
					t.Fatal(err)
				}
				p.toB(t)
				p.toA(t)
				sa, sb = currentStateMap(t, p.a, room), currentStateMap(t, p.b, room)
				if sa["m.room.topic|"] == "" || sa["m.room.topic|"] != sb["m.room.topic|"] {
					t.Fatalf("topics after the fork: a %s, b %s", sa["m.room.topic|"], sb["m.room.topic|"])
				}
				// The next message merges the fork on both.
				m3, err := p.a.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.message",
					Content: json.RawMessage(`{"msgtype":"m.text","body":"merged"}`)})
				if err != nil {
					t.Fatal(err)
				}
				p.toB(t)
				if ex, err := p.b.db2(t).ForwardExtremities(ctx, room); err != nil || !slices.Equal(ex, []string{m3.EventID}) {
					t.Fatalf("b's extremities after the merge: %v %v", ex, err)
				}
				// Bob redacts alice's message (power 50 ≥ redact 50): applied on both.
				if _, err := p.b.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: bob, Type: "m.room.redaction",
					Redacts: m1.EventID, Content: json.RawMessage(`{}`)}); err != nil {
					t.Fatal(err)
				}
				p.toA(t)
				if ev, err := p.a.QueryEvent(ctx, m1.EventID); err != nil || !ev.Redacted {
					t.Fatalf("a did not apply b's redaction: %+v %v", ev, err)
				}
				// Soft fail: a bans bob; b, not told yet, sends a message for bob. It passes
				// the auth rules against the state before it but not against a's current
				// state: stored, but neither shown nor built on.
				if _, err := p.a.PerformMembership(ctx, &api.MembershipRequest{Action: "ban", RoomID: room, Sender: alice, Target: bob}); err != nil {
					t.Fatal(err)
				}
				banPos := len(p.a.fedEvents(t))
				late, err := p.b.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: bob, Type: "m.room.message",
					Content: json.RawMessage(`{"msgtype":"m.text","body":"too late"}`)})
				if err != nil {
					t.Fatal(err)
				}
				outs = p.a.outbox.roomEvents(t)
				res := relay(t, p.b, p.a, &p.seenB)
				if len(res) != 1 || !res[0].SoftFailed || res[0].EventID != late.EventID {
					t.Fatalf("late message: %+v", res)
				}
				if n := len(p.a.outbox.roomEvents(t)); n != len(outs) {
					t.Fatal("a soft-failed event reached topic 2")
				}
				if ex, _ := p.a.db2(t).ForwardExtremities(ctx, room); slices.Contains(ex, late.EventID) {
					t.Fatal("a soft-failed event became a forward extremity")
				}
				// The ban reaches b, whose bob is then banned there too.
				if fa := p.a.fedEvents(t); len(fa) != banPos || !slices.Equal(fa[banPos-1].Destinations, []string{"b.test"}) {
					t.Fatalf("a's ban on topic 6: %+v", fa[banPos-1])
				}
				p.toB(t)
				if m, _, err := p.b.QueryMembership(ctx, room, bob); err != nil || m != "ban" {
					t.Fatalf("b: bob is %q after the ban (%v)", m, err)
				}
			})
		}
	})
}

// TestReceivedEventRejected: events that fail the auth rules are stored as rejected, are
// not sent to clients and are not served; unknown prev_events are reported.
func TestReceivedEventRejected(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		alice, bob := "@alice:a.test", "@bob:b.test"
		cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		room := cr.RoomID
		if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob, ServerNames: []string{"a.test"}}); err != nil {
			t.Fatal(err)
		}
		ex, _ := p.a.db2(t).ForwardExtremities(ctx, room)
		authFor := func(typ string, key *string) []string {
			var ids []string
			for _, tuple := range [][2]string{{"m.room.create", ""}, {"m.room.power_levels", ""}, {"m.room.member", bob}} {
				evs, _ := p.a.QueryCurrentState(ctx, room, []api.StateTuple{{EventType: tuple[0], StateKey: tuple[1]}})
				for _, js := range evs {
					ids = append(ids, eventIDOf(t, js))
				}
			}
			return ids
		}
		outsBefore := len(p.a.outbox.roomEvents(t))
		// Bob (power 0) may not change the power levels.
		bad := remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.power_levels", StateKey: strPtr(""), Sender: bob, RoomID: room,
			Content: json.RawMessage(`{"users":{"@bob:b.test":100}}`), PrevEvents: ex, AuthEvents: authFor("", nil), Depth: 10})
		// An event with an unknown prev event.
		gap := remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
			Content: json.RawMessage(`{"body":"x"}`), PrevEvents: []string{"$unknown"}, AuthEvents: authFor("", nil), Depth: 10})
		// A good message.
		good := remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
			Content: json.RawMessage(`{"body":"fine"}`), PrevEvents: ex, AuthEvents: authFor("", nil), Depth: 10})
		res, err := p.a.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "b.test", RoomID: room, Events: []api.FederationEvent{
			{EventID: bad.EventID(), JSON: bad.JSON()}, {EventID: gap.EventID(), JSON: gap.JSON()}, {EventID: good.EventID(), JSON: good.JSON()}}})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Results
		if len(r) != 3 || !r[0].Rejected || r[0].Error == "" || !slices.Equal(r[1].MissingPrevEvents, []string{"$unknown"}) || r[2].Error != "" {
			t.Fatalf("results: %+v", r)
		}
		if _, err := p.a.QueryEvent(ctx, bad.EventID()); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("rejected event served: %v", err)
		}
		if row, _ := p.a.db2(t).EventByID(ctx, bad.EventID()); row == nil || !row.IsRejected {
			t.Fatalf("rejected event not stored as rejected: %+v", row)
		}
		outs := p.a.outbox.roomEvents(t)[outsBefore:]
		if len(outs) != 1 || outs[0].NewRoomEvent.EventID != good.EventID() {
			t.Fatalf("topic 2 after input: %+v", outs)
		}
		// Input again: the same verdicts, nothing new on topic 2.
		res2, err := p.a.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "b.test", RoomID: room, Events: []api.FederationEvent{
			{EventID: bad.EventID(), JSON: bad.JSON()}, {EventID: good.EventID(), JSON: good.JSON()}}})
		if err != nil || !res2.Results[0].Rejected || res2.Results[1].Error != "" || len(p.a.outbox.roomEvents(t)) != outsBefore+1 {
			t.Fatalf("repeat: %+v %v", res2, err)
		}
		// A wrong event ID, an unknown room.
		res3, err := p.a.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "b.test", RoomID: room, Events: []api.FederationEvent{
			{EventID: "$wrong", JSON: good.JSON()}}})
		if err != nil || res3.Results[0].Error == "" {
			t.Fatalf("wrong ID: %+v %v", res3, err)
		}
		if _, err := p.a.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "b.test", RoomID: "!nope:a.test"}); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("unknown room: %v", err)
		}
	})
}

func eventIDOf(t *testing.T, js json.RawMessage) string {
	t.Helper()
	e, err := event.NewEventFromTrustedJSON(js, "10")
	if err != nil {
		t.Fatal(err)
	}
	return e.EventID()
}

// TestMakeJoinRefusals: make_join's errors, and send_join of a refused join.
func TestMakeJoinRefusals(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		alice := "@alice:a.test"
		pub, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		priv, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "private_chat"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			req  api.MakeJoinRequest
			code string
		}{
			{"unknown room", api.MakeJoinRequest{RoomID: "!x:a.test", UserID: "@bob:b.test", Versions: []string{"10"}}, "M_NOT_FOUND"},
			{"old versions only", api.MakeJoinRequest{RoomID: pub.RoomID, UserID: "@bob:b.test", Versions: []string{"1", "2"}}, "M_INCOMPATIBLE_ROOM_VERSION"},
			{"no versions", api.MakeJoinRequest{RoomID: pub.RoomID, UserID: "@bob:b.test"}, "M_INCOMPATIBLE_ROOM_VERSION"},
			{"invite only", api.MakeJoinRequest{RoomID: priv.RoomID, UserID: "@bob:b.test", Versions: []string{"10"}}, "M_FORBIDDEN"},
			{"local user", api.MakeJoinRequest{RoomID: pub.RoomID, UserID: "@carol:a.test", Versions: []string{"10"}}, "M_FORBIDDEN"},
			{"bad user", api.MakeJoinRequest{RoomID: pub.RoomID, UserID: "bob", Versions: []string{"10"}}, "M_INVALID_PARAM"},
			{"allowed", api.MakeJoinRequest{RoomID: pub.RoomID, UserID: "@bob:b.test", Versions: []string{"10"}}, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := p.a.QueryMakeJoin(ctx, &c.req)
				if errCode(err) != c.code {
					t.Fatalf("got %v, want %s", err, c.code)
				}
			})
		}
		// A join to the invite-only room built by hand is refused and not stored.
		mj, err := p.a.QueryMakeJoin(ctx, &api.MakeJoinRequest{RoomID: pub.RoomID, UserID: "@bob:b.test", Versions: []string{"10"}})
		if err != nil {
			t.Fatal(err)
		}
		e := buildFromTemplate(t, mj.RoomVersion, mj.Event, nil, "b.test", p.b.key())
		if _, err := p.a.PerformSendJoin(ctx, &api.SendJoinRequest{Origin: "c.test", RoomID: pub.RoomID,
			Event: api.FederationEvent{EventID: e.EventID(), JSON: e.JSON()}}); errCode(err) != "M_FORBIDDEN" {
			t.Fatalf("join from the wrong origin: %v", err)
		}
		_, otherKey, _ := ed25519.GenerateKey(nil)
		var tmpl map[string]any
		_ = json.Unmarshal(mj.Event, &tmpl)
		tmpl["room_id"] = priv.RoomID
		js, _ := json.Marshal(tmpl)
		// The template's auth events belong to the public room: refused in the private one.
		e2 := buildFromTemplate(t, "10", js, nil, "b.test", otherKey)
		if _, err := p.a.PerformSendJoin(ctx, &api.SendJoinRequest{Origin: "b.test", RoomID: priv.RoomID,
			Event: api.FederationEvent{EventID: e2.EventID(), JSON: e2.JSON()}}); err == nil {
			t.Fatal("join of the private room accepted")
		}
		if row, _ := p.a.db2(t).EventByID(ctx, e2.EventID()); row != nil {
			t.Fatal("refused join stored")
		}
		// Without a federation sender, unknown rooms stay M_NOT_FOUND.
		if _, err := p.a.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: "!elsewhere:c.test", Sender: alice}); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("join without federation: %v", err)
		}
		// State and auth chain queries, and which servers may read the room.
		ex, _ := p.a.db2(t).ForwardExtremities(ctx, pub.RoomID)
		sc, err := p.a.QueryStateAndAuthChain(ctx, &api.StateAndAuthChainRequest{RoomID: pub.RoomID, EventID: ex[0], IDsOnly: true})
		if err != nil || len(sc.StateIDs) == 0 || len(sc.AuthChainIDs) == 0 || sc.StateEvents != nil {
			t.Fatalf("state_ids: %+v %v", sc, err)
		}
		if _, err := p.a.QueryStateAndAuthChain(ctx, &api.StateAndAuthChainRequest{RoomID: priv.RoomID, EventID: ex[0]}); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("event of another room: %v", err)
		}
		if ok, err := p.a.QueryServerAllowedInRoom(ctx, pub.RoomID, "b.test"); err != nil || ok {
			t.Fatalf("b.test may read before joining: %v %v", ok, err)
		}
		if ok, err := p.a.QueryServerAllowedInRoom(ctx, pub.RoomID, "a.test"); err != nil || !ok {
			t.Fatalf("a.test may not read: %v %v", ok, err)
		}
	})
}

// TestQueryMissingEvents walks prev_events back from the latest events to the earliest.
func TestQueryMissingEvents(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		alice := "@alice:a.test"
		cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := 0; i < 5; i++ {
			r, err := p.a.SendEvent(ctx, &api.SendEventRequest{RoomID: cr.RoomID, Sender: alice, Type: "m.room.message",
				Content: json.RawMessage(`{"body":"m"}`)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.EventID)
		}
		depthOf := func(id string) int64 {
			row, _ := p.a.db2(t).EventByID(ctx, id)
			return row.Depth
		}
		for _, c := range []struct {
			name string
			req  api.MissingEventsRequest
			want []string
		}{
			{"between", api.MissingEventsRequest{EarliestEvents: ids[1:2], LatestEvents: ids[4:5]}, ids[2:4]},
			{"limit keeps the newest", api.MissingEventsRequest{EarliestEvents: ids[0:1], LatestEvents: ids[4:5], Limit: 2}, ids[2:4]},
			{"min depth", api.MissingEventsRequest{LatestEvents: ids[4:5], MinDepth: depthOf(ids[3])}, ids[3:4]},
			{"unknown latest", api.MissingEventsRequest{LatestEvents: []string{"$nope"}}, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				c.req.RoomID = cr.RoomID
				res, err := p.a.QueryMissingEvents(ctx, &c.req)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, js := range res.Events {
					got = append(got, eventIDOf(t, js))
				}
				if !slices.Equal(got, c.want) {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			})
		}
		if _, err := p.a.QueryMissingEvents(ctx, &api.MissingEventsRequest{RoomID: "!nope:a.test"}); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("unknown room: %v", err)
		}
	})
}
