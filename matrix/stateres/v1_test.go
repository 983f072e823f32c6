package stateres

import (
	"testing"

	"github.com/axon-matrix/axon/matrix"
)

func TestResolveV1(t *testing.T) {
	v1 := matrix.MustRoomVersion("1")
	cases := []struct {
		name  string
		build func(d *dag) (tips []string, want []string)
	}{
		{
			// Non-auth conflicts: the event with the highest depth that passes auth.
			name: "topic highest depth",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("T1", "m.room.topic", alice, "", topic("1"), s)
				d.add("M", "m.room.message", alice, "-", `{}`, s)
				d.add("T2", "m.room.topic", alice, "", topic("2"), "M")
				return []string{"T1", "T2"}, []string{"T2"}
			},
		},
		{
			// The deeper topic fails auth (bob may not set it), so the other one is picked.
			name: "topic deeper fails auth",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("T1", "m.room.topic", alice, "", topic("1"), s)
				d.add("M", "m.room.message", bob, "-", `{}`, s)
				d.add("T2", "m.room.topic", bob, "", topic("2"), "M")
				return []string{"T1", "T2"}, []string{"T1"}
			},
		},
		{
			// Power levels: ascending depth; alice's deeper change is allowed on top of
			// bob's shallower one.
			name: "power levels deeper allowed",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("PA", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 50}), s)
				d.add("PB", "m.room.power_levels", bob, "", d.pl(map[string]int{alice: 100, bob: 50, charlie: 50}), "PA")
				d.add("M", "m.room.message", alice, "-", `{}`, "PA")
				d.add("PC", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 0}), "M")
				return []string{"PB", "PC"}, []string{"PC"}
			},
		},
		{
			// Power levels: alice's shallower demotion of bob comes first; bob's deeper
			// change is then not allowed and the process stops.
			name: "power levels deeper rejected",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("PA", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 50}), s)
				d.add("PC", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 0}), "PA")
				d.add("M", "m.room.message", bob, "-", `{}`, "PA")
				d.add("PB", "m.room.power_levels", bob, "", d.pl(map[string]int{alice: 100, bob: 50, charlie: 50}), "M")
				return []string{"PC", "PB"}, []string{"PC"}
			},
		},
		{
			// Members: alice's ban of bob (shallower) and bob's later message-free rejoin
			// attempt: the ban is resolved first and bob's join is not allowed after it.
			name: "ban then join",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("BAN", "m.room.member", alice, bob, `{"membership":"ban"}`, s)
				d.add("LB", "m.room.member", bob, bob, `{"membership":"leave"}`, s)
				d.add("JB", "m.room.member", bob, bob, `{"membership":"join"}`, "LB")
				return []string{"BAN", "JB"}, []string{"BAN"}
			},
		},
		{
			// A key present in only one state set is not a conflict in v1.
			name: "key in one set only",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("T1", "m.room.topic", alice, "", topic("1"), s)
				d.add("M", "m.room.message", alice, "-", `{}`, s)
				return []string{"T1", "M"}, []string{"T1"}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDAG(t, v1)
			tips, want := c.build(d)
			state := d.resolveTips(tips...)
			d.expectState(state, want...)
			if again := d.resolveTips(tips[1], tips[0]); !equalState(state, again) {
				t.Errorf("resolution depends on state set order")
			}
		})
	}
}

// In v2, unlike v1, a key missing from one state set is conflicted; with an event that
// passes auth it still ends up in the state.
func TestSplit(t *testing.T) {
	k1 := matrix.StateKeyTuple{EventType: "a"}
	k2 := matrix.StateKeyTuple{EventType: "b"}
	k3 := matrix.StateKeyTuple{EventType: "c"}
	sets := []StateMap{{k1: "$1", k2: "$2"}, {k1: "$1", k2: "$3", k3: "$4"}, {k1: "$1", k2: "$2", k3: "$4"}}
	u, c := split(sets, true)
	if len(u) != 1 || u[k1] != "$1" || len(c[k2]) != 2 || len(c[k3]) != 1 {
		t.Errorf("strict: unconflicted %v conflicted %v", u, c)
	}
	u, c = split(sets, false)
	if len(u) != 2 || u[k3] != "$4" || len(c) != 1 || len(c[k2]) != 2 {
		t.Errorf("v1: unconflicted %v conflicted %v", u, c)
	}
	sets = []StateMap{{k1: "$1"}, {k3: "$4"}, {k3: "$5"}}
	u, c = split(sets, false)
	if len(u) != 1 || len(c[k3]) != 2 {
		t.Errorf("v1 missing from first: unconflicted %v conflicted %v", u, c)
	}
}
