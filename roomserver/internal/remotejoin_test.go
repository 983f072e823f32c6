package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/roomserver/api"
)

// trustedSender is fakeSender whose answers carry what the real federationsender adds
// after its checks (federationsender/internal/join.go): the events' IDs (mode "ids", as
// over the internal HTTP API) or the parsed events too (mode "parsed", as in the
// monolith); mode "" sends neither (the roomserver parses as untrusted). extra may add
// events to the answer first.
type trustedSender struct {
	*fakeSender
	t     *testing.T
	mode  string
	extra func(resp *fsapi.PerformJoinResponse)
}

func (s *trustedSender) PerformJoin(ctx context.Context, req *fsapi.PerformJoinRequest) (*fsapi.PerformJoinResponse, error) {
	resp, err := s.fakeSender.PerformJoin(ctx, req)
	if err != nil {
		return nil, err
	}
	if s.extra != nil {
		s.extra(resp)
	}
	parse := func(raws []json.RawMessage) ([]string, []matrix.PDU) {
		var ids []string
		var pdus []matrix.PDU
		for _, js := range raws {
			e, err := event.NewEventFromUntrustedJSON(js, matrix.RoomVersionID(resp.RoomVersion))
			if err != nil {
				s.t.Fatal(err)
			}
			ids, pdus = append(ids, e.EventID()), append(pdus, e)
		}
		return ids, pdus
	}
	switch s.mode {
	case "ids":
		resp.StateEventIDs, _ = parse(resp.StateEvents)
		resp.AuthChainIDs, _ = parse(resp.AuthChain)
	case "parsed":
		resp.StateEventIDs, resp.StateParsed = parse(resp.StateEvents)
		resp.AuthChainIDs, resp.AuthChainParsed = parse(resp.AuthChain)
	}
	return resp, nil
}

// TestRemoteJoinTrustedEvents: a remote join stores the same room whether the
// federationsender's answer carries parsed events, their IDs or neither, and the auth
// rules are applied to every state event in each case: a state event of a non-member,
// added to the answer, is stored rejected and stays out of the current state and topic 2.
// With 300 members, the members' joins are authorised on every core (storeOutliers).
func TestRemoteJoinTrustedEvents(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			tests := []struct {
				mode, version string
				members       int
			}{
				{"", "10", 0}, {"ids", "10", 0}, {"parsed", "10", 0}, {"ids", "12", 0}, {"parsed", "12", 0}, {"parsed", "1", 0},
				{"parsed", "10", 300},
			}
			for _, tc := range tests {
				t.Run(fmt.Sprintf("%s/v%s/%d", tc.mode, tc.version, tc.members), func(t *testing.T) {
					testTrustedJoin(t, dsn(t), dsn(t), tc.mode, tc.version, tc.members)
				})
			}
		})
	}
}

func testTrustedJoin(t *testing.T, dsnA, dsnB, mode, version string, members int) {
	ctx := context.Background()
	a := newNamedRoomserver(t, dsnA, "a.test")
	var b *testRS
	sender := &trustedSender{fakeSender: &fakeSender{t: t, resident: a, joiner: func() *testRS { return b }}, t: t, mode: mode}
	b = newNamedRoomserver(t, dsnB, "b.test", WithFederationSender(sender))
	alice, bob := "@alice:a.test", "@bob:b.test"
	cr, err := a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: version, Preset: "public_chat", Name: "trusted"})
	if err != nil {
		t.Fatal(err)
	}
	room := cr.RoomID
	for i := 0; i < members; i++ {
		if _, err := a.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: fmt.Sprintf("@u%d:a.test", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var forgedID string
	sender.extra = func(resp *fsapi.PerformJoinResponse) {
		forgedID = forgeTopic(t, resp, room, b)
	}
	before := len(b.outbox.roomEvents(t))
	resp, err := b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob, ServerNames: []string{"a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := currentStateMap(t, a, room), currentStateMap(t, b, room)
	if len(sa) != len(sb) || len(sb) < members+2 || sb["m.room.name|"] != sa["m.room.name|"] || sb["m.room.topic|"] != "" || sb["m.room.member|"+bob] == "" {
		t.Fatalf("state differs: a %v, b %v", sa, sb)
	}
	forged, err := b.RoomserverInternalAPI.db.Reader().EventByID(ctx, forgedID)
	if err != nil || forged == nil || !forged.IsRejected || !forged.IsOutlier {
		t.Fatalf("the forged topic %s: %+v %v", forgedID, forged, err)
	}
	outs := b.outbox.roomEvents(t)[before:]
	if len(outs) != 1 || outs[0].NewRoomEvent == nil || outs[0].NewRoomEvent.EventID != resp.EventID ||
		len(outs[0].NewRoomEvent.AddsStateEventIDs) != len(sb) || slices.Contains(outs[0].NewRoomEvent.AddsStateEventIDs, forgedID) {
		t.Fatalf("b's topic 2 after the join: %+v", outs)
	}
	if m, id, err := b.QueryMembership(ctx, room, bob); err != nil || m != "join" || id != resp.EventID {
		t.Fatalf("b: bob's membership %q %q %v", m, id, err)
	}
}

// forgeTopic adds to resp's state a m.room.topic sent by a user who is not in the room,
// citing the room's create and power levels events, and returns its ID.
func forgeTopic(t *testing.T, resp *fsapi.PerformJoinResponse, room string, by *testRS) string {
	t.Helper()
	v := matrix.RoomVersionID(resp.RoomVersion)
	rv, err := matrix.GetRoomVersion(v)
	if err != nil {
		t.Fatal(err)
	}
	var create, pl *event.Event
	for _, js := range append(append([]json.RawMessage(nil), resp.StateEvents...), resp.AuthChain...) {
		e, err := event.NewEventFromUntrustedJSON(js, v)
		if err != nil {
			t.Fatal(err)
		}
		switch e.Type() {
		case "m.room.create":
			create = e
		case "m.room.power_levels":
			pl = e
		}
	}
	if create == nil || pl == nil {
		t.Fatal("no create or power levels event in the answer")
	}
	authEvents := []string{create.EventID(), pl.EventID()}
	if rv.RoomIDFromCreateEvent {
		authEvents = []string{pl.EventID()}
	}
	hashes := map[string]string{}
	for _, e := range []*event.Event{create, pl} {
		h, err := e.ReferenceHash()
		if err != nil {
			t.Fatal(err)
		}
		hashes[e.EventID()] = h
	}
	sk := ""
	b := event.Builder{Type: "m.room.topic", StateKey: &sk, Sender: "@mallory:b.test", RoomID: room,
		Content: map[string]any{"topic": "forged"}, PrevEvents: []string{pl.EventID()}, AuthEvents: authEvents,
		Depth: pl.Depth() + 1, ReferenceHashes: hashes}
	e, err := b.Build(v, "b.test", "ed25519:test", by.key())
	if err != nil {
		t.Fatal(err)
	}
	resp.StateEvents = append(resp.StateEvents, e.JSON())
	return e.EventID()
}
