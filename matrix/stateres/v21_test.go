package stateres

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth/authtest"
)

// v2.1 starts the iterative auth checks from the empty state. Bob's topic T_B, sent while
// he was a moderator, conflicts with alice's earlier T_A; bob's ban is unconflicted. v2
// checks T_B against the unconflicted ban and drops it; v2.1 checks it against its own
// auth events (bob joined) and, as the later event, T_B wins.
func TestV21StartsFromEmptyState(t *testing.T) {
	for _, v := range []*matrix.RoomVersion{matrix.MustRoomVersion("11"), matrix.MustRoomVersion("12")} {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			d := newDAG(t, v)
			s := d.initial()
			d.add("PA", "m.room.power_levels", alice, "", d.pl(map[string]int{alice: 100, bob: 50}), s)
			ta := d.add("TA", "m.room.topic", alice, "", topic("a"), "PA")
			tb := d.add("TB", "m.room.topic", bob, "", topic("b"), "PA")
			ban := d.add("BAN", "m.room.member", alice, bob, `{"membership":"ban"}`, "PA")
			base := d.stateAfter["BAN"]
			s1, s2 := StateMap{}, StateMap{}
			for k, id := range base {
				s1[k], s2[k] = id, id
			}
			topicKey := matrix.StateKeyTuple{EventType: "m.room.topic"}
			s1[topicKey], s2[topicKey] = ta.ID, tb.ID
			got, err := Resolve(context.Background(), v, []StateMap{s1, s2}, d.fetch, d.authChain)
			if err != nil {
				t.Fatal(err)
			}
			want := ta.ID
			if v.StateRes == matrix.StateResV2_1 {
				want = tb.ID
			}
			if got[topicKey] != want {
				t.Errorf("topic = %s, want %s", got[topicKey], want)
			}
			if k, _ := matrix.Tuple(ban); got[k] != ban.ID {
				t.Errorf("ban lost: %s", got[k])
			}
		})
	}
}

// The conflicted state subgraph holds the events on auth paths between conflicted
// events, endpoints included, and nothing else.
func TestConflictedSubgraph(t *testing.T) {
	v := matrix.MustRoomVersion("12")
	events := map[string]*authtest.Event{}
	mk := func(id string, auth ...string) {
		events[id] = &authtest.Event{ID: id, Room: "!c", SenderID: alice, EventType: "m.x", SK: authtest.SK(id),
			ContentJSON: json.RawMessage(`{}`), Auth: auth, V: v}
	}
	// c2 ← b ← a ← c1 (c1 cites a, a cites b, b cites c2); d hangs off c1 and root is
	// under everything; c3 is conflicted but connected to nothing conflicted.
	mk("$root")
	mk("$c2", "$root")
	mk("$b", "$c2", "$root")
	mk("$a", "$b")
	mk("$d", "$root")
	mk("$c1", "$a", "$d")
	mk("$c3", "$root")
	fetch := func(_ context.Context, ids []string) ([]matrix.PDU, error) {
		var out []matrix.PDU
		for _, id := range ids {
			if e, ok := events[id]; ok {
				out = append(out, e)
			}
		}
		return out, nil
	}
	r := &resolver{v: v, events: newEventCache(context.Background(), fetch)}
	sub, err := r.conflictedSubgraph(map[string]bool{"$c1": true, "$c2": true, "$c3": true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"$c1": true, "$a": true, "$b": true, "$c2": true, "$c3": true}
	if len(sub) != len(want) {
		t.Fatalf("subgraph = %v, want %v", sortedKeys(sub), sortedKeys(want))
	}
	for id := range want {
		if !sub[id] {
			t.Fatalf("subgraph = %v, want %v", sortedKeys(sub), sortedKeys(want))
		}
	}
}

// In v12 the creators have infinite power: an additional creator's ban of a moderator
// beats the moderator's concurrent power level change, even though the moderator's
// level is listed as 100.
func TestV12CreatorsOutrankModerators(t *testing.T) {
	v := matrix.MustRoomVersion("12")
	d := newDAG(t, v)
	d.add("CREATE", "m.room.create", alice, "", `{"additional_creators":["`+charlie+`"]}`)
	d.add("IMA", "m.room.member", alice, alice, `{"membership":"join"}`, "CREATE")
	d.add("IPOWER", "m.room.power_levels", alice, "", d.pl(map[string]int{bob: 100}), "IMA")
	d.add("IJR", "m.room.join_rules", alice, "", `{"join_rule":"public"}`, "IPOWER")
	d.add("IMB", "m.room.member", bob, bob, `{"membership":"join"}`, "IJR")
	d.add("IMC", "m.room.member", charlie, charlie, `{"membership":"join"}`, "IMB")
	d.add("BAN", "m.room.member", charlie, bob, `{"membership":"ban"}`, "IMC")
	d.add("PB", "m.room.power_levels", bob, "", d.pl(map[string]int{bob: 100, zara: 100}), "IMC")
	state := d.resolveTips("BAN", "PB")
	d.expectState(state, "BAN", "IPOWER")
}
