package stateres

import (
	"context"
	"errors"
	"testing"

	"github.com/axon-matrix/axon/matrix"
)

func topic(s string) string { return `{"topic":"` + s + `"}` }

// The classic state resolution v2 cases, each run on every room version using v2 or v2.1.
func TestClassicV2(t *testing.T) {
	cases := []struct {
		name  string
		build func(d *dag) (tips []string, want []string)
		// absent lists keys that must not be in the resolved state.
		absent []matrix.StateKeyTuple
	}{
		{
			// Alice bans bob while bob, still a moderator, changes the power levels: the
			// ban is authorised first (alice has more power), so bob's change fails.
			name: "ban vs power levels",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("PA", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 50}), s)
				d.add("MA", "m.room.member", alice, alice, `{"membership":"join"}`, "PA")
				d.add("MB", "m.room.member", alice, bob, `{"membership":"ban"}`, "MA")
				d.add("PB", "m.room.power_levels", bob, "", d.pl(map[string]int{alice: 100, bob: 50}, "ban", "1"), "PA")
				return []string{"MB", "PB"}, []string{"PA", "MA", "MB"}
			},
		},
		{
			// Alice makes the room private while evelyn joins on another branch: the join
			// rules are a power event, applied first, and evelyn's join then fails.
			name: "join rule evasion",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("JR", "m.room.join_rules", alice, "", `{"join_rule":"private"}`, s)
				d.add("ME", "m.room.member", evelyn, evelyn, `{"membership":"join"}`, s)
				return []string{"JR", "ME"}, []string{"JR"}
			},
			absent: []matrix.StateKeyTuple{{EventType: "m.room.member", StateKey: evelyn}},
		},
		{
			// Bob makes charlie a moderator, who demotes himself; alice's own change is on
			// the main line. Charlie's (latest authorised) change stands.
			name: "offtopic power levels",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("PA", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 50}), s)
				d.add("PB", "m.room.power_levels", bob, "", d.pl(map[string]int{alice: 100, bob: 50, charlie: 50}), "PA")
				d.add("PC", "m.room.power_levels", charlie, "", d.pl(map[string]int{alice: 100, bob: 50, charlie: 0}), "PB")
				return []string{"PC", "PA"}, []string{"PC"}
			},
		},
		{
			// Alice demotes bob (PA2) while bob, on a branch from PA1, restates his power and
			// sets a topic. Alice's demotion wins; bob's topic is not allowed.
			name: "topic basic",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("T1", "m.room.topic", alice, "", topic("1"), s)
				d.add("PA1", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 50}), "T1")
				d.add("T2", "m.room.topic", alice, "", topic("2"), "PA1")
				d.add("PA2", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 0}), "T2")
				d.add("PB", "m.room.power_levels", bob, "", d.pl(map[string]int{alice: 100, bob: 50}), "PA1")
				d.add("T3", "m.room.topic", bob, "", topic("3"), "PB")
				return []string{"PA2", "T3"}, []string{"PA2", "T2"}
			},
		},
		{
			// Bob sets a topic, then alice bans him; on the other branch only T1. The ban
			// stands, and the topic resets to T1 because bob's T2 is re-checked after it.
			name: "topic reset",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("T1", "m.room.topic", alice, "", topic("1"), s)
				d.add("PA", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 50}), "T1")
				d.add("T2", "m.room.topic", bob, "", topic("2"), "PA")
				d.add("MB", "m.room.member", alice, bob, `{"membership":"ban"}`, "T2")
				return []string{"MB", "T1"}, []string{"T1", "MB", "PA"}
			},
		},
		{
			// As "topic basic", with a message from zara merging bob's branch back and a
			// later topic from alice: alice's T4 is the topic.
			name: "topic",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("T1", "m.room.topic", alice, "", topic("1"), s)
				d.add("PA1", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 50}), "T1")
				d.add("T2", "m.room.topic", alice, "", topic("2"), "PA1")
				d.add("PA2", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 0}), "T2")
				d.add("PB", "m.room.power_levels", bob, "", d.pl(map[string]int{alice: 100, bob: 50}), "PA1")
				d.add("T3", "m.room.topic", bob, "", topic("3"), "PB")
				d.add("MZ1", "m.room.message", zara, "-", `{"body":"hi"}`, "T3", "PA2")
				d.add("T4", "m.room.topic", alice, "", topic("4"), "MZ1")
				return []string{"T4", "MZ1"}, []string{"T4", "PA2"}
			},
		},
		{
			// Two topics citing different power levels: T3 cites PA2, at the head of the
			// mainline, so it sorts after T4 (which cites PB → PA1) and wins although T4 is
			// later.
			name: "mainline sort",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("T1", "m.room.topic", alice, "", topic("1"), s)
				d.add("PA1", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 50}), "T1")
				d.add("T2", "m.room.topic", alice, "", topic("2"), "PA1")
				d.add("PA2", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 50}, "events", `{"m.room.power_levels":100}`), "T2")
				d.add("PB", "m.room.power_levels", bob, "", d.pl(map[string]int{alice: 100, bob: 50}), "PA1")
				d.add("T3", "m.room.topic", bob, "", topic("3"), "PA2")
				d.add("T4", "m.room.topic", alice, "", topic("4"), "PB")
				return []string{"T3", "T4"}, []string{"T3", "PA2"}
			},
		},
		{
			// Concurrent kick of bob by alice and bob's leave-and-rejoin: the kick is a
			// power event and applies; bob's later self-join still passes (public room) and
			// comes after it in mainline order.
			name: "kick vs rejoin",
			build: func(d *dag) ([]string, []string) {
				s := d.initial()
				d.add("KB", "m.room.member", alice, bob, `{"membership":"leave"}`, s)
				d.add("LB", "m.room.member", bob, bob, `{"membership":"leave"}`, s)
				d.add("JB", "m.room.member", bob, bob, `{"membership":"join"}`, "LB")
				return []string{"KB", "JB"}, []string{"JB"}
			},
		},
	}
	for _, c := range cases {
		for _, v := range versionsFrom(2) {
			t.Run(c.name+"/v"+string(v.ID), func(t *testing.T) {
				d := newDAG(t, v)
				tips, want := c.build(d)
				state := d.resolveTips(tips...)
				d.expectState(state, want...)
				for _, k := range c.absent {
					d.expectAbsent(state, k)
				}
				// Resolution does not depend on the order of the state sets.
				rev := make([]string, len(tips))
				for i, tip := range tips {
					rev[len(tips)-1-i] = tip
				}
				if again := d.resolveTips(rev...); !equalState(state, again) {
					t.Errorf("resolution depends on state set order:\n%v\n%v", state, again)
				}
			})
		}
	}
}

func equalState(a, b StateMap) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Trivial inputs: no sets, one set (copied), identical sets.
func TestResolveTrivial(t *testing.T) {
	v := matrix.MustRoomVersion("10")
	d := newDAG(t, v)
	s := d.initial()
	st := d.stateAfter[s]
	got, err := Resolve(context.Background(), v, nil, d.fetch, d.authChain)
	if err != nil || len(got) != 0 {
		t.Fatalf("no sets: %v, %v", got, err)
	}
	got, err = Resolve(context.Background(), v, []StateMap{st}, d.fetch, d.authChain)
	if err != nil || !equalState(got, st) {
		t.Fatalf("one set: %v, %v", got, err)
	}
	got[matrix.StateKeyTuple{EventType: "x"}] = "y"
	if _, ok := st[matrix.StateKeyTuple{EventType: "x"}]; ok {
		t.Fatal("result aliases the input")
	}
	got, err = Resolve(context.Background(), v, []StateMap{st, st, st}, d.fetch, d.authChain)
	if err != nil || !equalState(got, st) {
		t.Fatalf("identical sets: %v, %v", got, err)
	}
	if _, err := Resolve(context.Background(), v, []StateMap{st, {}}, d.fetch, nil); err == nil {
		t.Fatal("v2 without an auth chain fetcher accepted")
	}
	// A conflicted event the fetcher does not know is an error, not a silent drop.
	other := StateMap{matrix.StateKeyTuple{EventType: "m.room.topic"}: "$missing"}
	if _, err := Resolve(context.Background(), v, []StateMap{st, other}, d.fetch, d.authChain); err == nil {
		t.Fatal("missing conflicted event accepted")
	}
}

// Store errors from either fetcher are returned, not swallowed.
func TestResolveFetchErrors(t *testing.T) {
	for _, id := range []matrix.RoomVersionID{"1", "10", "12"} {
		v := matrix.MustRoomVersion(id)
		d := newDAG(t, v)
		s := d.initial()
		d.add("T1", "m.room.topic", alice, "", topic("1"), s)
		d.add("T2", "m.room.topic", alice, "", topic("2"), s)
		sets := []StateMap{d.stateAfter["T1"], d.stateAfter["T2"]}
		boom := errors.New("store down")
		badFetch := func(context.Context, []string) ([]matrix.PDU, error) { return nil, boom }
		if _, err := Resolve(context.Background(), v, sets, badFetch, d.authChain); !errors.Is(err, boom) {
			t.Errorf("v%s: fetch error: got %v", id, err)
		}
		if v.StateRes != matrix.StateResV1 {
			badChain := func(context.Context, []string) ([]string, error) { return nil, boom }
			if _, err := Resolve(context.Background(), v, sets, d.fetch, badChain); !errors.Is(err, boom) {
				t.Errorf("v%s: auth chain error: got %v", id, err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Resolve(ctx, v, sets, d.fetch, d.authChain); !errors.Is(err, context.Canceled) {
			t.Errorf("v%s: cancelled context: got %v", id, err)
		}
	}
}
