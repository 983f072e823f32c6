package internal

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/roomserver/api"
)

// batchRoom is a public room of a.test that bob of b.test has joined, seen from a.test.
type batchRoom struct {
	p    *pair
	room string
	bob  string
}

func newBatchRoom(t *testing.T, p *pair) *batchRoom {
	t.Helper()
	ctx := context.Background()
	cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: "@alice:a.test", Preset: "public_chat", RoomVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	bob := "@bob:b.test"
	if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: cr.RoomID, Sender: bob, ServerNames: []string{"a.test"}}); err != nil {
		t.Fatal(err)
	}
	return &batchRoom{p: p, room: cr.RoomID, bob: bob}
}

// extremities are a.test's forward extremities of the room.
func (r *batchRoom) extremities(t *testing.T) []string {
	t.Helper()
	ex, err := r.p.a.db2(t).ForwardExtremities(context.Background(), r.room)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ex)
	return ex
}

// auth are the current create, power levels and bob's member event on a.test, plus extra.
func (r *batchRoom) auth(t *testing.T, extra ...string) []string {
	t.Helper()
	var ids []string
	for _, tp := range []api.StateTuple{{EventType: "m.room.create"}, {EventType: "m.room.power_levels"}, {EventType: "m.room.member", StateKey: r.bob}} {
		evs, err := r.p.a.QueryCurrentState(context.Background(), r.room, []api.StateTuple{tp})
		if err != nil || len(evs) != 1 {
			t.Fatalf("state %v: %v", tp, err)
		}
		ids = append(ids, eventIDOf(t, evs[0]))
	}
	return append(ids, extra...)
}

// event builds an event of bob's, signed by b.test.
func (r *batchRoom) event(t *testing.T, typ string, stateKey *string, content string, prev, auth []string, depth int64) *event.Event {
	t.Helper()
	return remoteEvent(t, "10", "b.test", r.p.b.key(), event.Builder{Type: typ, StateKey: stateKey, Sender: r.bob, RoomID: r.room,
		Content: json.RawMessage(content), PrevEvents: prev, AuthEvents: auth, Depth: depth})
}

// input gives a.test the events in one request.
func (r *batchRoom) input(t *testing.T, fes ...api.FederationEvent) []api.FederationEventResult {
	t.Helper()
	res, err := r.p.a.InputFederationEvents(context.Background(), &api.InputFederationEventsRequest{Origin: "b.test", RoomID: r.room, Events: fes})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != len(fes) {
		t.Fatalf("%d results for %d events", len(res.Results), len(fes))
	}
	return res.Results
}

func fe(e *event.Event) api.FederationEvent {
	return api.FederationEvent{EventID: e.EventID(), JSON: e.JSON()}
}

// TestInputFederationBatch: one request of nine events, stored in one transaction, gets
// the verdicts the events get one by one: a refused power levels change in the middle is
// stored as rejected and the others stored; an event with an unknown prev event is
// reported with the extremities the earlier events left; an event whose prev event is an
// earlier one of the batch takes the fast path; a repeat of an accepted and of a rejected
// event gets the same verdict; a wrong event ID fails alone; a later event authorised by
// a state event of the batch is accepted. Topic 2 carries the accepted events in order at
// consecutive positions.
func TestInputFederationBatch(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		r := newBatchRoom(t, p)
		ex := r.extremities(t)
		e1 := r.event(t, "m.room.message", nil, `{"body":"1"}`, ex, r.auth(t), 10)
		bad := r.event(t, "m.room.power_levels", strPtr(""), `{"users":{"@bob:b.test":100}}`, []string{e1.EventID()}, r.auth(t), 11)
		gap := r.event(t, "m.room.message", nil, `{"body":"gap"}`, []string{"$unknown"}, r.auth(t), 11)
		e4 := r.event(t, "m.room.message", nil, `{"body":"4"}`, []string{e1.EventID()}, r.auth(t), 11)
		rename := r.event(t, "m.room.member", &r.bob, `{"membership":"join","displayname":"Bobby"}`, []string{e4.EventID()}, r.auth(t), 12)
		auth8 := r.auth(t)
		auth8[2] = rename.EventID() // bob's membership is now the rename
		e8 := r.event(t, "m.room.message", nil, `{"body":"8"}`, []string{rename.EventID()}, auth8, 13)
		outsBefore := len(p.a.outbox.roomEvents(t))

		res := r.input(t, fe(e1), fe(bad), fe(gap), fe(e4), fe(e1), api.FederationEvent{EventID: "$wrong", JSON: e4.JSON()}, fe(rename), fe(e8), fe(bad))
		accepted := func(i int) bool {
			return res[i].Error == "" && !res[i].Rejected && !res[i].SoftFailed && len(res[i].MissingPrevEvents) == 0
		}
		for _, i := range []int{0, 3, 4, 6, 7} {
			if !accepted(i) {
				t.Fatalf("result %d: %+v", i, res[i])
			}
		}
		for _, i := range []int{1, 8} {
			if !res[i].Rejected || res[i].EventID != bad.EventID() {
				t.Fatalf("result %d (refused power levels): %+v", i, res[i])
			}
		}
		if !slices.Equal(res[2].MissingPrevEvents, []string{"$unknown"}) || !slices.Equal(res[2].ForwardExtremities, []string{e1.EventID()}) {
			t.Fatalf("result 2 (gap): %+v", res[2])
		}
		if res[5].Error == "" || res[5].Rejected || res[5].EventID != "$wrong" {
			t.Fatalf("result 5 (wrong ID): %+v", res[5])
		}
		outs := p.a.outbox.roomEvents(t)[outsBefore:]
		want := []string{e1.EventID(), e4.EventID(), rename.EventID(), e8.EventID()}
		if len(outs) != len(want) {
			t.Fatalf("%d topic 2 records, want %d", len(outs), len(want))
		}
		for i, o := range outs {
			if o.NewRoomEvent == nil || o.NewRoomEvent.EventID != want[i] || (i > 0 && o.StreamPos != outs[i-1].StreamPos+1) {
				t.Fatalf("topic 2 record %d: %+v", i, o)
			}
		}
		if got := r.extremities(t); !slices.Equal(got, []string{e8.EventID()}) {
			t.Fatalf("forward extremities %v, want %s", got, e8.EventID())
		}
		if row, _ := p.a.db2(t).EventByID(ctx, bad.EventID()); row == nil || !row.IsRejected {
			t.Fatalf("refused event not stored as rejected: %+v", row)
		}
		if row, _ := p.a.db2(t).EventByID(ctx, gap.EventID()); row != nil {
			t.Fatal("event with a missing prev event stored")
		}
		if got := currentStateMap(t, p.a, r.room)["m.room.member|"+r.bob]; got != `{"displayname":"Bobby","membership":"join"}` {
			t.Fatalf("bob's member event: %s", got)
		}
		// The next write of the room builds on the batch (the room's head was kept right).
		sent, err := p.a.SendEvent(ctx, &api.SendEventRequest{RoomID: r.room, Sender: "@alice:a.test", Type: "m.room.message", Content: json.RawMessage(`{"body":"after"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.extremities(t); !slices.Equal(got, []string{sent.EventID}) {
			t.Fatalf("forward extremities after a local send %v", got)
		}
	})
}

// TestInputFederationBatchFork: a batch in which an event forks the DAG (state
// resolution: the room's head does not follow it) and a later one builds on the event
// before the fork only: the later one must not take the fast path on the extremities
// remembered from before the fork, so its state before is the state after its prev event,
// not the current state that holds the fork's change.
func TestInputFederationBatchFork(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		r := newBatchRoom(t, p)
		ex := r.extremities(t)
		x1 := r.event(t, "m.room.message", nil, `{"body":"x1"}`, ex, r.auth(t), 10)
		x2 := r.event(t, "m.room.member", &r.bob, `{"membership":"join","displayname":"Forked"}`, ex, r.auth(t), 10)
		x4 := r.event(t, "m.room.message", nil, `{"body":"x4"}`, []string{x1.EventID()}, r.auth(t), 11)
		x5 := r.event(t, "m.room.message", nil, `{"body":"x5"}`, []string{x2.EventID(), x4.EventID()}, r.auth(t), 12)
		for i, res := range r.input(t, fe(x1), fe(x2), fe(x4), fe(x5)) {
			if res.Error != "" {
				t.Fatalf("result %d: %+v", i, res)
			}
		}
		st := p.a.db2(t)
		row1, _ := st.EventByID(ctx, x1.EventID())
		row4, _ := st.EventByID(ctx, x4.EventID())
		if row1 == nil || row4 == nil {
			t.Fatal("x1 or x4 not stored")
		}
		if row4.StateBefore != row1.StateAfter {
			t.Fatalf("x4's state before is snapshot %d, not the state after x1 (%d)", row4.StateBefore, row1.StateAfter)
		}
		if got := r.extremities(t); !slices.Equal(got, []string{x5.EventID()}) {
			t.Fatalf("forward extremities %v, want %s", got, x5.EventID())
		}
		if got := currentStateMap(t, p.a, r.room)["m.room.member|"+r.bob]; got != `{"displayname":"Forked","membership":"join"}` {
			t.Fatalf("bob's member event: %s", got)
		}
	})
}

// TestInputFederationBatchNoWrites: batches that write nothing — every event lacking a
// prev event, or every event refused before any write — answer each event on its own; a
// child given before its parent lacks it, and is accepted when given again.
func TestInputFederationBatchNoWrites(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		r := newBatchRoom(t, p)
		ex := r.extremities(t)
		outsBefore := len(p.a.outbox.roomEvents(t))
		g1 := r.event(t, "m.room.message", nil, `{"body":"g1"}`, []string{"$a"}, r.auth(t), 10)
		g2 := r.event(t, "m.room.message", nil, `{"body":"g2"}`, []string{"$b"}, r.auth(t), 10)
		for i, res := range r.input(t, fe(g1), fe(g2)) {
			if len(res.MissingPrevEvents) != 1 || !slices.Equal(res.ForwardExtremities, ex) || res.Rejected {
				t.Fatalf("missing prev, result %d: %+v", i, res)
			}
		}
		res := r.input(t, api.FederationEvent{EventID: "$x", JSON: g1.JSON()}, api.FederationEvent{JSON: json.RawMessage(`{"type":1}`)})
		if res[0].Error == "" || res[0].EventID != "$x" || res[1].Error == "" {
			t.Fatalf("refusals: %+v", res)
		}
		parent := r.event(t, "m.room.message", nil, `{"body":"parent"}`, ex, r.auth(t), 10)
		child := r.event(t, "m.room.message", nil, `{"body":"child"}`, []string{parent.EventID()}, r.auth(t), 11)
		res = r.input(t, fe(child), fe(parent))
		if !slices.Equal(res[0].MissingPrevEvents, []string{parent.EventID()}) || res[1].Error != "" {
			t.Fatalf("child before parent: %+v", res)
		}
		if res = r.input(t, fe(child)); res[0].Error != "" {
			t.Fatalf("child again: %+v", res)
		}
		outs := p.a.outbox.roomEvents(t)[outsBefore:]
		if len(outs) != 2 || outs[0].NewRoomEvent.EventID != parent.EventID() || outs[1].NewRoomEvent.EventID != child.EventID() {
			t.Fatalf("topic 2: %+v", outs)
		}
	})
}
