package stateres

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth/authtest"
)

// orderRoom is a hand-wired set of events for the ordering unit tests.
type orderRoom struct {
	v      *matrix.RoomVersion
	events map[string]*authtest.Event
}

func (o *orderRoom) add(id, typ, sender, content string, ts int64, auth ...string) *authtest.Event {
	e := &authtest.Event{ID: id, Room: "!r:x", SenderID: sender, EventType: typ, SK: authtest.SK(""),
		ContentJSON: json.RawMessage(content), Auth: auth, TS: ts, V: o.v}
	o.events[id] = e
	return e
}

func (o *orderRoom) resolver() *resolver {
	return &resolver{v: o.v, events: newEventCache(context.Background(), func(_ context.Context, ids []string) ([]matrix.PDU, error) {
		var out []matrix.PDU
		for _, id := range ids {
			if e, ok := o.events[id]; ok {
				out = append(out, e)
			}
		}
		return out, nil
	})}
}

func ids(evs []matrix.PDU) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.EventID()
	}
	return out
}

func sameIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReverseTopologicalPowerOrder(t *testing.T) {
	o := &orderRoom{v: matrix.MustRoomVersion("10"), events: map[string]*authtest.Event{}}
	o.add("$create", "m.room.create", alice, `{"creator":"`+alice+`"}`, 1)
	o.add("$pl", "m.room.power_levels", alice, `{"users":{"`+alice+`":100,"`+bob+`":50}}`, 2, "$create")
	// Candidates with no edges among them: by power (alice 100 > bob 50 > charlie 0),
	// then timestamp, then event ID.
	a := o.add("$a", "m.x", alice, `{}`, 50, "$create", "$pl")
	b1 := o.add("$b1", "m.x", bob, `{}`, 10, "$create", "$pl")
	b2 := o.add("$b2", "m.x", bob, `{}`, 10, "$create", "$pl")
	b0 := o.add("$b0", "m.x", bob, `{}`, 9, "$create", "$pl")
	c := o.add("$c", "m.x", charlie, `{}`, 1, "$create", "$pl")
	// An auth edge beats power: $child (alice) cites $c, so it must come after it.
	child := o.add("$child", "m.x", alice, `{}`, 0, "$create", "$pl", "$c")
	got, err := o.resolver().reverseTopologicalPowerOrder([]matrix.PDU{c, b2, child, b1, a, b0})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"$a", "$b0", "$b1", "$b2", "$c", "$child"}
	if !sameIDs(ids(got), want) {
		t.Errorf("order = %v, want %v", ids(got), want)
	}
}

func TestMainlineOrder(t *testing.T) {
	o := &orderRoom{v: matrix.MustRoomVersion("10"), events: map[string]*authtest.Event{}}
	o.add("$create", "m.room.create", alice, `{"creator":"`+alice+`"}`, 1)
	o.add("$p0", "m.room.power_levels", alice, `{}`, 2, "$create")
	o.add("$p1", "m.room.power_levels", alice, `{}`, 3, "$create", "$p0")
	o.add("$p2", "m.room.power_levels", alice, `{}`, 4, "$create", "$p1")
	o.add("$side", "m.room.power_levels", alice, `{}`, 5, "$create", "$p0") // off the mainline
	evs := []matrix.PDU{
		o.add("$on-p2", "m.x", alice, `{}`, 1, "$create", "$p2"),
		o.add("$on-p1", "m.x", alice, `{}`, 9, "$create", "$p1"),
		o.add("$on-side", "m.x", alice, `{}`, 8, "$create", "$side"), // → $p0, position 2
		o.add("$on-p0", "m.x", alice, `{}`, 7, "$create", "$p0"),
		o.add("$none-b", "m.x", alice, `{}`, 5, "$create"), // no power levels: position ∞
		o.add("$none-a", "m.x", alice, `{}`, 5, "$create"),
	}
	got, err := o.resolver().mainlineOrder(evs, "$p2")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"$none-a", "$none-b", "$on-p0", "$on-side", "$on-p1", "$on-p2"}
	if !sameIDs(ids(got), want) {
		t.Errorf("order = %v, want %v", ids(got), want)
	}
	// With no resolved power levels, every position is ∞: timestamp, then ID.
	got, err = o.resolver().mainlineOrder(evs, "")
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"$on-p2", "$none-a", "$none-b", "$on-p0", "$on-side", "$on-p1"}
	if !sameIDs(ids(got), want) {
		t.Errorf("order without power levels = %v, want %v", ids(got), want)
	}
}
