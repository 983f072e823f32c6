package stateres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth/authtest"
)

// largeRoom is an in-memory room with n joined members and two state sets over it that
// differ in `diff` membership keys: half the differing members left on their own, half
// were kicked by the creator (power events).
type largeRoom struct {
	events map[string]*authtest.Event
	sets   []StateMap
}

func buildLargeRoom(v *matrix.RoomVersion, n, diff int) *largeRoom {
	lr := &largeRoom{events: make(map[string]*authtest.Event, n+diff+8)}
	room := "!big:example.com"
	createID := "$create:example.com"
	if v.RoomIDFromCreateEvent {
		room, createID = "!bigcreate", "$bigcreate"
	}
	ts := int64(0)
	add := func(id, typ, sender, sk, content string, auth ...string) *authtest.Event {
		ts++
		e := &authtest.Event{ID: id, Room: room, SenderID: sender, EventType: typ, SK: authtest.SK(sk),
			ContentJSON: json.RawMessage(content), Auth: auth, TS: ts, DepthN: ts, V: v}
		lr.events[id] = e
		return e
	}
	var cauth []string // the create event in auth_events before v12
	createContent := `{"creator":"` + alice + `"}`
	if v.ImplicitRoomCreator {
		createContent = `{}`
	}
	add(createID, "m.room.create", alice, "", createContent)
	if !v.RoomIDFromCreateEvent {
		cauth = []string{createID}
	}
	add("$ima", "m.room.member", alice, alice, `{"membership":"join"}`, cauth...)
	pl := `{"users":{"` + alice + `":100}}`
	if v.PrivilegedCreators {
		pl = `{"users":{}}`
	}
	add("$pl", "m.room.power_levels", alice, "", pl, append(cauth, "$ima")...)
	add("$jr", "m.room.join_rules", alice, "", `{"join_rule":"public"}`, append(cauth, "$ima", "$pl")...)
	base := StateMap{}
	for _, id := range []string{createID, "$ima", "$pl", "$jr"} {
		k, _ := matrix.Tuple(lr.events[id])
		base[k] = id
	}
	for i := len(base); i < n; i++ {
		u := fmt.Sprintf("@u%d:example.com", i)
		e := add(fmt.Sprintf("$join%d", i), "m.room.member", u, u, `{"membership":"join"}`, append(cauth, "$pl", "$jr")...)
		base[matrix.StateKeyTuple{EventType: "m.room.member", StateKey: u}] = e.ID
	}
	other := make(StateMap, len(base))
	for k, id := range base {
		other[k] = id
	}
	for i := 0; i < diff; i++ {
		u := fmt.Sprintf("@u%d:example.com", i+4)
		k := matrix.StateKeyTuple{EventType: "m.room.member", StateKey: u}
		join := base[k]
		var e *authtest.Event
		if i%2 == 0 {
			e = add(fmt.Sprintf("$leave%d", i), "m.room.member", u, u, `{"membership":"leave"}`, append(cauth, "$pl", join)...)
		} else {
			e = add(fmt.Sprintf("$kick%d", i), "m.room.member", alice, u, `{"membership":"leave"}`, append(cauth, "$pl", "$ima", join)...)
		}
		other[k] = e.ID
	}
	lr.sets = []StateMap{base, other}
	return lr
}

func (lr *largeRoom) fetch(_ context.Context, ids []string) ([]matrix.PDU, error) {
	out := make([]matrix.PDU, 0, len(ids))
	for _, id := range ids {
		if e, ok := lr.events[id]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}

func (lr *largeRoom) authChain(_ context.Context, ids []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	stack := append([]string{}, ids...)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		e, ok := lr.events[id]
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

// BenchmarkResolveLarge resolves two 50,000-event state sets that differ in 1,000 events
// (issue #2 point 5: < 2 s and < 300 MB; figures in docs/benchmarks.md).
func BenchmarkResolveLarge(b *testing.B) {
	for _, id := range []matrix.RoomVersionID{"1", "10", "12"} {
		v := matrix.MustRoomVersion(id)
		b.Run("v"+string(id), func(b *testing.B) {
			// Built inside the sub-benchmark so that -bench …/v12 builds one room only and a
			// peak RSS measured around one sub-benchmark holds that room alone.
			lr := buildLargeRoom(v, 50_000, 1_000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, err := Resolve(context.Background(), v, lr.sets, lr.fetch, lr.authChain)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != 50_000 {
					b.Fatalf("resolved state has %d entries", len(got))
				}
			}
		})
	}
}

// The large case resolves correctly too: every leave and kick wins over the join.
func TestResolveLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	for _, id := range []matrix.RoomVersionID{"1", "10", "12"} {
		v := matrix.MustRoomVersion(id)
		lr := buildLargeRoom(v, 5_000, 200)
		got, err := Resolve(context.Background(), v, lr.sets, lr.fetch, lr.authChain)
		if err != nil {
			t.Fatal(err)
		}
		if !equalState(got, lr.sets[1]) {
			for k, id := range lr.sets[1] {
				if got[k] != id {
					t.Fatalf("v%s: state[%v] = %s, want %s", v.ID, k, got[k], id)
				}
			}
			t.Fatalf("v%s: resolved state differs", v.ID)
		}
	}
}
