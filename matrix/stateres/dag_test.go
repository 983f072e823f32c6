package stateres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/matrix/auth/authtest"
)

const (
	alice   = "@alice:example.com"
	bob     = "@bob:example.com"
	charlie = "@charlie:example.com"
	evelyn  = "@evelyn:example.com"
	zara    = "@zara:example.com"
)

// dag is a room whose events form a DAG given by explicit prev_events. The state after
// each event is computed as the spec defines it: the resolution (with this package) of
// the states after its prev_events, plus the event itself. Each event's auth_events are
// selected from the state before it.
type dag struct {
	t          *testing.T
	v          *matrix.RoomVersion
	roomID     string
	events     map[string]*authtest.Event
	stateAfter map[string]StateMap
	ts         int64
}

func newDAG(t *testing.T, v *matrix.RoomVersion) *dag {
	d := &dag{t: t, v: v, roomID: "!room:example.com", events: map[string]*authtest.Event{}, stateAfter: map[string]StateMap{}}
	if v.RoomIDFromCreateEvent {
		d.roomID = "!CREATE"
	}
	return d
}

func (d *dag) fetch(_ context.Context, ids []string) ([]matrix.PDU, error) {
	var out []matrix.PDU
	for _, id := range ids {
		if e, ok := d.events[id]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}

func (d *dag) authChain(_ context.Context, ids []string) ([]string, error) {
	seen := map[string]bool{}
	stack := append([]string{}, ids...)
	var out []string
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		e, ok := d.events[id]
		if !ok {
			continue
		}
		for _, a := range e.Auth {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
				stack = append(stack, a)
			}
		}
	}
	return out, nil
}

// stateBefore resolves the states after prev.
func (d *dag) stateBefore(prev []string) StateMap {
	d.t.Helper()
	sets := make([]StateMap, 0, len(prev))
	for _, p := range prev {
		s, ok := d.stateAfter[p]
		if !ok {
			d.t.Fatalf("unknown prev event %s", p)
		}
		sets = append(sets, s)
	}
	if len(sets) == 0 {
		return StateMap{}
	}
	s, err := Resolve(context.Background(), d.v, sets, d.fetch, d.authChain)
	if err != nil {
		d.t.Fatalf("Resolve: %v", err)
	}
	return s
}

// add adds event id. stateKey "-" makes a message event. The event is recorded whether or
// not it passes auth against the state before it (like a soft-failed or rejected-by-state
// event the resolution must still cope with); strict makes a failure fatal.
func (d *dag) add(id, typ, sender, stateKey, content string, prev ...string) *authtest.Event {
	d.t.Helper()
	before := d.stateBefore(prev)
	d.ts++
	e := &authtest.Event{ID: "$" + id, Room: d.roomID, SenderID: sender, EventType: typ, ContentJSON: json.RawMessage(content),
		Prev: prefixed(prev), TS: d.ts, V: d.v, DepthN: 1}
	if stateKey != "-" {
		e.SK = authtest.SK(stateKey)
	}
	for _, p := range prev {
		if dp := d.events["$"+p].DepthN + 1; dp > e.DepthN {
			e.DepthN = dp
		}
	}
	keys := make([]matrix.StateKeyTuple, 0, len(before))
	for k := range before {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return before[keys[i]] < before[keys[j]] })
	for _, k := range keys {
		if auth.AuthEventAllowed(e, k) {
			e.Auth = append(e.Auth, before[k])
		}
	}
	d.events[e.ID] = e
	after := make(StateMap, len(before)+1)
	for k, v := range before {
		after[k] = v
	}
	if t, ok := matrix.Tuple(e); ok {
		after[t] = e.ID
	}
	d.stateAfter[id] = after
	return e
}

func prefixed(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "$" + id
	}
	return out
}

// initial builds the common start of the classic cases: alice creates the room, sets
// power levels (alice 100), a public join rule, and bob, charlie and zara join. It
// returns the last event's name.
func (d *dag) initial() string {
	create := `{"creator":"` + alice + `"}`
	if d.v.ImplicitRoomCreator {
		create = `{}`
	}
	d.add("CREATE", "m.room.create", alice, "", create)
	d.add("IMA", "m.room.member", alice, alice, `{"membership":"join"}`, "CREATE")
	d.add("IPOWER", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100}), "IMA")
	d.add("IJR", "m.room.join_rules", alice, "", `{"join_rule":"public"}`, "IPOWER")
	d.add("IMB", "m.room.member", bob, bob, `{"membership":"join"}`, "IJR")
	d.add("IMC", "m.room.member", charlie, charlie, `{"membership":"join"}`, "IMB")
	d.add("IMZ", "m.room.member", zara, zara, `{"membership":"join"}`, "IMC")
	return "IMZ"
}

// pl is power levels content; in v12 alice, the creator, is left out of users.
func (d *dag) pl(users map[string]int, extra ...string) string {
	m := map[string]any{}
	u := map[string]int{}
	for k, l := range users {
		if d.v.PrivilegedCreators && k == alice {
			continue
		}
		u[k] = l
	}
	m["users"] = u
	for i := 0; i+1 < len(extra); i += 2 {
		var v any
		if err := json.Unmarshal([]byte(extra[i+1]), &v); err != nil {
			panic(err)
		}
		m[extra[i]] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// resolveTips resolves the states after the named events.
func (d *dag) resolveTips(tips ...string) StateMap {
	return d.stateBefore(tips)
}

// expectState checks that state holds, for the key of each named event, that event.
func (d *dag) expectState(state StateMap, names ...string) {
	d.t.Helper()
	for _, n := range names {
		e := d.events["$"+n]
		k, _ := matrix.Tuple(e)
		if got := state[k]; got != e.ID {
			d.t.Errorf("state[%s %q] = %s, want %s", k.EventType, k.StateKey, got, e.ID)
		}
	}
}

// expectAbsent checks that state has no entry for key.
func (d *dag) expectAbsent(state StateMap, k matrix.StateKeyTuple) {
	d.t.Helper()
	if got, ok := state[k]; ok {
		d.t.Errorf("state[%s %q] = %s, want none", k.EventType, k.StateKey, got)
	}
}

func versionsFrom(from int) []*matrix.RoomVersion {
	var out []*matrix.RoomVersion
	for i := from; i <= 12; i++ {
		out = append(out, matrix.MustRoomVersion(matrix.RoomVersionID(fmt.Sprint(i))))
	}
	return out
}
