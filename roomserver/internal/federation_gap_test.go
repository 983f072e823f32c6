package internal

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestStateAtGap: b.test misses 30 events of a.test (a rename and carol's join among
// them), more than get_missing_events' limit of 20 fills; a's next event (carol's message,
// whose auth events b has never seen) is then accepted with the state after its prev
// event as a reports it (GET /state and /event without the wire), and b's current state
// has the rename and carol. Gaps bridged with incomplete or inconsistent states are
// refused and the event stays missing; afterwards both servers keep exchanging events.
func TestStateAtGap(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		alice, bob, carol := "@alice:a.test", "@bob:b.test", "@carol:a.test"
		cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: "10"})
		if err != nil {
			t.Fatal(err)
		}
		room := cr.RoomID
		p.seenA = len(p.a.fedEvents(t))
		if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob,
			ServerNames: []string{"a.test"}}); err != nil {
			t.Fatal(err)
		}
		p.toA(t)
		send := func(rs *testRS, sender, typ, content string, stateKey *string) string {
			t.Helper()
			r, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: sender, Type: typ, StateKey: stateKey,
				Content: json.RawMessage(content)})
			if err != nil {
				t.Fatal(err)
			}
			return r.EventID
		}
		// 30 events b never receives.
		empty := ""
		for i := 0; i < 30; i++ {
			switch i {
			case 10:
				send(p.a, alice, "m.room.name", `{"name":"renamed"}`, &empty)
			case 20:
				if _, err := p.a.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: carol}); err != nil {
					t.Fatal(err)
				}
			default:
				send(p.a, alice, "m.room.message", `{"msgtype":"m.text","body":"missed"}`, nil)
			}
		}
		p.seenA = len(p.a.fedEvents(t))
		next := send(p.a, carol, "m.room.message", `{"msgtype":"m.text","body":"after the gap"}`, nil)
		fresh := p.a.fedEvents(t)[p.seenA:]
		p.seenA += len(fresh)
		if len(fresh) != 1 || fresh[0].EventID != next {
			t.Fatalf("a's topic 6: %+v", fresh)
		}
		input := func(fe api.FederationEvent) api.FederationEventResult {
			t.Helper()
			res, err := p.b.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "a.test", RoomID: room,
				Events: []api.FederationEvent{fe}})
			if err != nil {
				t.Fatal(err)
			}
			return res.Results[0]
		}
		nextFE := api.FederationEvent{EventID: next, JSON: fresh[0].Event}
		res := input(nextFE)
		if len(res.MissingPrevEvents) != 1 {
			t.Fatalf("b's first verdict: %+v", res)
		}
		prev := res.MissingPrevEvents[0]
		// get_missing_events (limit 20) gives the newest 20 of the 30: the gap remains.
		missing, err := p.a.QueryMissingEvents(ctx, &api.MissingEventsRequest{RoomID: room, EarliestEvents: res.ForwardExtremities,
			LatestEvents: []string{next}, Limit: 20})
		if err != nil || len(missing.Events) != 20 {
			t.Fatalf("get_missing_events: %d events, %v", len(missing.Events), err)
		}
		for _, js := range missing.Events {
			if r := input(api.FederationEvent{JSON: js}); len(r.MissingPrevEvents) == 0 {
				t.Fatalf("missed event accepted without its prev events: %+v", r)
			}
		}
		if r := input(nextFE); len(r.MissingPrevEvents) != 1 {
			t.Fatalf("after get_missing_events: %+v", r)
		}

		// The state after prev as a reports it: /state at prev, plus prev when it is state.
		sc, err := p.a.QueryStateAndAuthChain(ctx, &api.StateAndAuthChainRequest{RoomID: room, EventID: prev})
		if err != nil {
			t.Fatal(err)
		}
		var stateIDs []string
		for _, js := range sc.StateEvents {
			stateIDs = append(stateIDs, eventIDOf(t, js))
		}
		outliers := append(append([]json.RawMessage(nil), sc.StateEvents...), sc.AuthChain...)

		for _, bad := range []struct {
			name   string
			states map[string][]string
			out    []json.RawMessage
			want   string
		}{
			{"no state for the prev event", map[string][]string{"$other": stateIDs}, outliers, "no state given"},
			{"an event not sent", map[string][]string{prev: append(stateIDs[1:len(stateIDs):len(stateIDs)], "$unknown")}, outliers, "unknown event"},
			{"events left out", map[string][]string{prev: stateIDs}, sc.AuthChain[:1], "unknown event"},
		} {
			fe := nextFE
			fe.PrevStates, fe.Outliers = bad.states, bad.out
			if r := input(fe); len(r.MissingPrevEvents) != 1 || !strings.Contains(r.Error, bad.want) {
				t.Fatalf("%s: %+v", bad.name, r)
			}
		}

		fe := nextFE
		fe.PrevStates, fe.Outliers = map[string][]string{prev: stateIDs}, outliers
		if r := input(fe); r.Error != "" || r.Rejected || r.SoftFailed {
			t.Fatalf("b refused the event at the gap: %+v", r)
		}
		if _, err := p.b.QueryEvent(ctx, next); err != nil {
			t.Fatalf("b does not serve %s: %v", next, err)
		}
		sb := currentStateMap(t, p.b, room)
		if !strings.Contains(sb["m.room.name|"], "renamed") || !strings.Contains(sb["m.room.member|"+carol], `"join"`) ||
			!strings.Contains(sb["m.room.member|"+bob], `"join"`) {
			t.Fatalf("b's state after the gap: %v", sb)
		}
		if sa := currentStateMap(t, p.a, room); len(sa) != len(sb) {
			t.Fatalf("states differ: a %v, b %v", sa, sb)
		}
		// Both keep talking: b's next event (on both of its extremities) is accepted by a,
		// and a's next one by b.
		send(p.b, bob, "m.room.message", `{"msgtype":"m.text","body":"back"}`, nil)
		p.toA(t)
		send(p.a, carol, "m.room.message", `{"msgtype":"m.text","body":"welcome back"}`, nil)
		p.toB(t)
	})
}
