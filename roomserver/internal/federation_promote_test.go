package internal

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/roomserver/api"
)

// storeAsOutlier stores e in rs as an outlier of room (as backfill or an auth chain would:
// storeOutliers, authorised against its own auth events, which rs holds).
func storeAsOutlier(t *testing.T, rs *testRS, room string, e matrix.PDU) {
	t.Helper()
	err := rs.writeRoom(context.Background(), "test_outlier", room, func(ctx context.Context, w *roomWriter) error {
		create, err := w.stateEvent(ctx, "m.room.create", "")
		if err != nil {
			return err
		}
		byID := map[string]matrix.PDU{e.EventID(): e}
		rows, err := w.s.EventsByID(ctx, e.AuthEventIDs())
		if err != nil {
			return err
		}
		for id, r := range rows {
			p, err := w.parsedRow(r)
			if err != nil {
				return err
			}
			byID[id] = p
		}
		_, _, err = w.storeOutliers(ctx, byID, create)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if row, _ := rs.db2(t).EventByID(context.Background(), e.EventID()); row == nil || !row.IsOutlier {
		t.Fatalf("%s not stored as an outlier: %+v", e.EventID(), row)
	}
}

// bobJoinedRoom creates a public room of alice on a.test that bob of b.test joins, and
// returns it with a.test's forward extremities and the auth events of a message of bob's
// (create, power levels, his membership).
func bobJoinedRoom(t *testing.T, p *pair, alice, bob string) (room string, prev, auth []string) {
	t.Helper()
	ctx := context.Background()
	cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: "10", Preset: "public_chat"})
	if err != nil {
		t.Fatal(err)
	}
	room = cr.RoomID
	if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob, ServerNames: []string{"a.test"}}); err != nil {
		t.Fatal(err)
	}
	if prev, err = p.a.db2(t).ForwardExtremities(ctx, room); err != nil {
		t.Fatal(err)
	}
	for _, tuple := range []api.StateTuple{{EventType: "m.room.create"}, {EventType: "m.room.power_levels"}, {EventType: "m.room.member", StateKey: bob}} {
		evs, err := p.a.QueryCurrentState(ctx, room, []api.StateTuple{tuple})
		if err != nil || len(evs) != 1 {
			t.Fatalf("auth event %v: %v", tuple, err)
		}
		auth = append(auth, eventIDOf(t, evs[0]))
	}
	return room, prev, auth
}

// TestOutlierPromotion: an event a.test holds as an outlier (backfilled history, an auth
// event) that then arrives live from b.test is checked like any received event and its row
// becomes the verdict (federation_promote.go): accepted → a timeline event (forward
// extremity, stream position, one topic 2 record); refused by the state before it →
// rejected; refused by its own auth events as an outlier → still rejected; prev_events
// not held → reported missing and left an outlier; prev_events held only as outliers →
// history from before the timeline, not promoted. Input again, nothing changes.
func TestOutlierPromotion(t *testing.T) {
	alice, bob := "@alice:a.test", "@bob:b.test"
	type verdict int
	const (
		accepted verdict = iota
		rejected
		missingPrev
		beforeTimeline
	)
	tests := []struct {
		name string
		// build makes bob's event given a's room; it may change the room first.
		build func(t *testing.T, p *pair, room string, prev, auth []string) *event.Event
		want  verdict
		// outlier: the row stays an outlier (nothing was promoted).
		outlier bool
	}{
		{"outlier then live with prev_events known: accepted", func(t *testing.T, p *pair, room string, prev, auth []string) *event.Event {
			return remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
				Content: json.RawMessage(`{"msgtype":"m.text","body":"history"}`), PrevEvents: prev, AuthEvents: auth, Depth: 20})
		}, accepted, false},
		{"state event promoted: accepted, enters the current state", func(t *testing.T, p *pair, room string, prev, auth []string) *event.Event {
			return remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.member", StateKey: strPtr(bob), Sender: bob, RoomID: room,
				Content: json.RawMessage(`{"membership":"join","displayname":"Bob again"}`), PrevEvents: prev, AuthEvents: auth, Depth: 20})
		}, accepted, false},
		{"outlier failing auth against the state before it: rejected", func(t *testing.T, p *pair, room string, prev, auth []string) *event.Event {
			// Alice kicks bob; bob's message cites the kick but authorises itself with his
			// old join: fine for its own auth events (so a fine outlier), not for the state.
			kick, err := p.a.PerformMembership(context.Background(), &api.MembershipRequest{Action: "kick", RoomID: room, Sender: alice, Target: bob})
			if err != nil {
				t.Fatal(err)
			}
			return remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
				Content: json.RawMessage(`{"msgtype":"m.text","body":"after the kick"}`), PrevEvents: []string{kick.EventID}, AuthEvents: auth, Depth: 20})
		}, rejected, false},
		{"outlier refused by its own auth events: rejected", func(t *testing.T, p *pair, room string, prev, auth []string) *event.Event {
			return remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.power_levels", StateKey: strPtr(""), Sender: bob, RoomID: room,
				Content: json.RawMessage(`{"users":{"@bob:b.test":100}}`), PrevEvents: prev, AuthEvents: auth, Depth: 20})
		}, rejected, true},
		{"outlier with prev_events not held: missing, still an outlier", func(t *testing.T, p *pair, room string, prev, auth []string) *event.Event {
			return remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
				Content: json.RawMessage(`{"msgtype":"m.text","body":"gap"}`), PrevEvents: []string{"$unknown"}, AuthEvents: auth, Depth: 20})
		}, missingPrev, true},
		{"outlier whose prev_events are outliers: before the timeline, not promoted", func(t *testing.T, p *pair, room string, prev, auth []string) *event.Event {
			older := remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
				Content: json.RawMessage(`{"msgtype":"m.text","body":"older"}`), PrevEvents: prev, AuthEvents: auth, Depth: 19})
			storeAsOutlier(t, p.a, room, older)
			return remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
				Content: json.RawMessage(`{"msgtype":"m.text","body":"history"}`), PrevEvents: []string{older.EventID()}, AuthEvents: auth, Depth: 20})
		}, beforeTimeline, true},
	}
	forEachPair(t, func(t *testing.T, p *pair) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				room, prev, auth := bobJoinedRoom(t, p, alice, bob)
				e := tc.build(t, p, room, prev, auth)
				storeAsOutlier(t, p.a, room, e)
				outsBefore := len(p.a.outbox.roomEvents(t))
				stateBefore := currentStateMap(t, p.a, room)

				for round := range 2 { // live, then the same again
					res, err := p.a.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "b.test", RoomID: room,
						Events: []api.FederationEvent{{EventID: e.EventID(), JSON: e.JSON()}}})
					if err != nil {
						t.Fatal(err)
					}
					r := res.Results[0]
					row, err := p.a.db2(t).EventByID(ctx, e.EventID())
					if err != nil || row == nil {
						t.Fatalf("round %d: row %+v %v", round, row, err)
					}
					ex, _ := p.a.db2(t).ForwardExtremities(ctx, room)
					outs := p.a.outbox.roomEvents(t)[outsBefore:]
					if row.IsOutlier != tc.outlier {
						t.Fatalf("round %d: outlier %v, want %v (result %+v)", round, row.IsOutlier, tc.outlier, r)
					}
					switch tc.want {
					case accepted:
						if r.Error != "" || r.Rejected || r.SoftFailed || row.IsRejected || row.StreamPos <= 0 {
							t.Fatalf("round %d: result %+v, row %+v", round, r, row)
						}
						if !slices.Equal(ex, []string{e.EventID()}) {
							t.Fatalf("round %d: forward extremities %v, want the promoted event", round, ex)
						}
						if len(outs) != 1 || outs[0].NewRoomEvent.EventID != e.EventID() {
							t.Fatalf("round %d: topic 2 records %+v, want the promoted event once", round, outs)
						}
						if ev, err := p.a.QueryEvent(ctx, e.EventID()); err != nil || ev == nil {
							t.Fatalf("round %d: promoted event not served: %v", round, err)
						}
						if e.StateKey() != nil {
							if got := currentStateMap(t, p.a, room)["m.room.member|"+bob]; got != string(e.Content()) {
								t.Fatalf("round %d: bob's member state %s", round, got)
							}
						}
					case rejected:
						if !r.Rejected || !row.IsRejected || len(outs) != 0 || slices.Contains(ex, e.EventID()) {
							t.Fatalf("round %d: result %+v, row %+v, topic 2 %d, extremities %v", round, r, row, len(outs), ex)
						}
						if _, err := p.a.QueryEvent(ctx, e.EventID()); errCode(err) != "M_NOT_FOUND" {
							t.Fatalf("round %d: rejected event served: %v", round, err)
						}
						if after := currentStateMap(t, p.a, room); len(after) != len(stateBefore) || after["m.room.power_levels|"] != stateBefore["m.room.power_levels|"] {
							t.Fatalf("round %d: current state changed", round)
						}
					case beforeTimeline:
						if !strings.Contains(r.Error, "before this server's timeline") || r.Rejected || row.IsRejected || len(outs) != 0 || slices.Contains(ex, e.EventID()) {
							t.Fatalf("round %d: result %+v, row %+v, topic 2 %d, extremities %v", round, r, row, len(outs), ex)
						}
					case missingPrev:
						if !slices.Equal(r.MissingPrevEvents, []string{"$unknown"}) || len(outs) != 0 || slices.Contains(ex, e.EventID()) {
							t.Fatalf("round %d: result %+v, row %+v, topic 2 %d", round, r, row, len(outs))
						}
					}
				}
			})
		}
	})
}

// TestOutlierPromotionBelowChild: bob's event P is held by a.test as an outlier; bob's X
// (prev_events [P]) is accepted across the gap (the state after P as b reports it), with P
// still an outlier. When P then arrives live it is promoted to a timeline event (one
// topic 2 record) but is no forward extremity: X already names it as a prev_event.
func TestOutlierPromotionBelowChild(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		alice, bob := "@alice:a.test", "@bob:b.test"
		cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: "10", Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		room := cr.RoomID
		if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob, ServerNames: []string{"a.test"}}); err != nil {
			t.Fatal(err)
		}
		ex, err := p.a.db2(t).ForwardExtremities(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		state, err := p.a.QueryCurrentState(ctx, room, nil)
		if err != nil {
			t.Fatal(err)
		}
		var stateIDs, auth []string
		for _, js := range state {
			stateIDs = append(stateIDs, eventIDOf(t, js))
		}
		for _, tuple := range []api.StateTuple{{EventType: "m.room.create"}, {EventType: "m.room.power_levels"}, {EventType: "m.room.member", StateKey: bob}} {
			evs, err := p.a.QueryCurrentState(ctx, room, []api.StateTuple{tuple})
			if err != nil || len(evs) != 1 {
				t.Fatalf("auth event %v: %v", tuple, err)
			}
			auth = append(auth, eventIDOf(t, evs[0]))
		}
		pe := remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
			Content: json.RawMessage(`{"msgtype":"m.text","body":"P"}`), PrevEvents: ex, AuthEvents: auth, Depth: 20})
		xe := remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
			Content: json.RawMessage(`{"msgtype":"m.text","body":"X"}`), PrevEvents: []string{pe.EventID()}, AuthEvents: auth, Depth: 21})
		storeAsOutlier(t, p.a, room, pe)
		input := func(fe api.FederationEvent) api.FederationEventResult {
			t.Helper()
			res, err := p.a.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "b.test", RoomID: room, Events: []api.FederationEvent{fe}})
			if err != nil {
				t.Fatal(err)
			}
			return res.Results[0]
		}
		if r := input(api.FederationEvent{EventID: xe.EventID(), JSON: xe.JSON()}); !slices.Equal(r.MissingPrevEvents, []string{pe.EventID()}) {
			t.Fatalf("X before the gap is bridged: %+v", r)
		}
		if r := input(api.FederationEvent{EventID: xe.EventID(), JSON: xe.JSON(), PrevStates: map[string][]string{pe.EventID(): stateIDs},
			Outliers: state}); r.Error != "" || r.Rejected || r.SoftFailed {
			t.Fatalf("X across the gap: %+v", r)
		}
		outsBefore := len(p.a.outbox.roomEvents(t))
		for round := range 2 {
			if r := input(api.FederationEvent{EventID: pe.EventID(), JSON: pe.JSON()}); r.Error != "" || r.Rejected || r.SoftFailed {
				t.Fatalf("round %d: P live: %+v", round, r)
			}
			row, err := p.a.db2(t).EventByID(ctx, pe.EventID())
			if err != nil || row == nil || row.IsOutlier || row.StreamPos <= 0 {
				t.Fatalf("round %d: P's row %+v %v", round, row, err)
			}
			if ex, _ := p.a.db2(t).ForwardExtremities(ctx, room); !slices.Equal(ex, []string{xe.EventID()}) {
				t.Fatalf("round %d: forward extremities %v, want only X", round, ex)
			}
			if outs := p.a.outbox.roomEvents(t)[outsBefore:]; len(outs) != 1 || outs[0].NewRoomEvent.EventID != pe.EventID() {
				t.Fatalf("round %d: topic 2 records %+v, want P once", round, outs)
			}
		}
		// a's next event builds on X only.
		if _, err := p.a.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.message",
			Content: json.RawMessage(`{"msgtype":"m.text","body":"after"}`)}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutlierBeforeTimelineNotPromoted: b.test joined a.test's room, so it holds the room's
// create event and state from before its join as outliers. get_missing_events can return
// them (a walk back to the room's start): input live, they are answered as outliers from
// before the timeline and stay as they are — never re-checked, never rejected — and b's
// room keeps working.
func TestOutlierBeforeTimelineNotPromoted(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		alice, bob := "@alice:a.test", "@bob:b.test"
		cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: "10", Preset: "public_chat", Name: "before"})
		if err != nil {
			t.Fatal(err)
		}
		room := cr.RoomID
		if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob, ServerNames: []string{"a.test"}}); err != nil {
			t.Fatal(err)
		}
		state, err := p.a.QueryCurrentState(ctx, room, []api.StateTuple{{EventType: "m.room.create"}, {EventType: "m.room.name"}, {EventType: "m.room.power_levels"}})
		if err != nil || len(state) != 3 {
			t.Fatalf("a's state: %d events, %v", len(state), err)
		}
		exBefore, _ := p.b.db2(t).ForwardExtremities(ctx, room)
		outsBefore := len(p.b.outbox.roomEvents(t))
		for _, js := range state {
			id := eventIDOf(t, js)
			res, err := p.b.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "a.test", RoomID: room,
				Events: []api.FederationEvent{{EventID: id, JSON: js}}})
			if err != nil {
				t.Fatal(err)
			}
			if r := res.Results[0]; r.Rejected || !strings.Contains(r.Error, "before this server's timeline") {
				t.Fatalf("%s: %+v", id, r)
			}
			if row, _ := p.b.db2(t).EventByID(ctx, id); row == nil || !row.IsOutlier || row.IsRejected {
				t.Fatalf("%s's row: %+v", id, row)
			}
		}
		if ex, _ := p.b.db2(t).ForwardExtremities(ctx, room); !slices.Equal(ex, exBefore) {
			t.Fatalf("extremities %v, were %v", ex, exBefore)
		}
		if n := len(p.b.outbox.roomEvents(t)) - outsBefore; n != 0 {
			t.Fatalf("%d topic 2 records", n)
		}
		if _, err := p.b.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: bob, Type: "m.room.message",
			Content: json.RawMessage(`{"msgtype":"m.text","body":"still fine"}`)}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutlierPromotionWholeCopy: a.test holds bob's message as an outlier in one form and
// the other arrives live — the redacted form (a copy whose content hash did not match) and
// the whole event, either way round. The promoted row and its topic 2 record carry the
// whole content; input again changes nothing.
func TestOutlierPromotionWholeCopy(t *testing.T) {
	bob := "@bob:b.test"
	for _, storedWhole := range []bool{false, true} {
		name := "outlier redacted, live whole"
		if storedWhole {
			name = "outlier whole, live redacted"
		}
		t.Run(name, func(t *testing.T) {
			forEachPair(t, func(t *testing.T, p *pair) {
				ctx := context.Background()
				room, prev, auth := bobJoinedRoom(t, p, "@alice:a.test", bob)
				whole := remoteEvent(t, "10", "b.test", p.b.key(), event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
					Content: json.RawMessage(`{"msgtype":"m.text","body":"the whole of it"}`), PrevEvents: prev, AuthEvents: auth, Depth: 20})
				redacted, err := whole.Redacted()
				if err != nil {
					t.Fatal(err)
				}
				if redacted.EventID() != whole.EventID() || strings.Contains(string(redacted.JSON()), "the whole of it") {
					t.Fatalf("redacted copy: %s", redacted.JSON())
				}
				stored, live := redacted, whole
				if storedWhole {
					stored, live = whole, redacted
				}
				storeAsOutlier(t, p.a, room, stored)
				outsBefore := len(p.a.outbox.roomEvents(t))
				for round := range 2 {
					res, err := p.a.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "b.test", RoomID: room,
						Events: []api.FederationEvent{{EventID: live.EventID(), JSON: live.JSON()}}})
					if err != nil || res.Results[0].Error != "" || res.Results[0].Rejected {
						t.Fatalf("round %d: %+v %v", round, res, err)
					}
					row, err := p.a.db2(t).EventByID(ctx, whole.EventID())
					if err != nil || row == nil || row.IsOutlier || !strings.Contains(string(row.JSON), "the whole of it") {
						t.Fatalf("round %d: row %+v %v", round, row, err)
					}
					outs := p.a.outbox.roomEvents(t)[outsBefore:]
					if len(outs) != 1 || !strings.Contains(string(outs[0].NewRoomEvent.Event), "the whole of it") {
						t.Fatalf("round %d: topic 2 records %+v, want the whole event once", round, outs)
					}
				}
			})
		})
	}
}
