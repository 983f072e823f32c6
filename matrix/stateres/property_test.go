package stateres

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
)

// Random room histories with forks: the resolution of the tips must not depend on the
// order of the state sets, and must be the same when repeated (no map-order effects).
func TestResolveOrderIndependent(t *testing.T) {
	users := []string{alice, bob, charlie, zara}
	for _, v := range versionsFrom(1) {
		for seed := int64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("v%s/seed%d", v.ID, seed), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				d := newDAG(t, v)
				tips := []string{d.initial()}
				for i := 0; i < 40; i++ {
					// Build on one or two random tips (a fork or a merge).
					prev := []string{tips[rng.Intn(len(tips))]}
					if len(tips) > 1 && rng.Intn(3) == 0 {
						if other := tips[rng.Intn(len(tips))]; other != prev[0] {
							prev = append(prev, other)
						}
					}
					name := fmt.Sprintf("E%d", i)
					sender := users[rng.Intn(len(users))]
					target := users[rng.Intn(len(users))]
					switch rng.Intn(5) {
					case 0:
						d.add(name, "m.room.topic", sender, "", topic(name), prev...)
					case 1:
						d.add(name, "m.room.power_levels", sender, "", d.pl(map[string]int{alice: 100, sender: 50 + rng.Intn(50), target: rng.Intn(100)}), prev...)
					case 2:
						d.add(name, "m.room.member", sender, target, `{"membership":"ban"}`, prev...)
					case 3:
						d.add(name, "m.room.member", target, target, `{"membership":"join"}`, prev...)
					case 4:
						d.add(name, "m.room.member", sender, target, `{"membership":"leave"}`, prev...)
					}
					// Keep up to three tips: the new event replaces its prevs.
					var next []string
					for _, tip := range tips {
						keep := true
						for _, p := range prev {
							if p == tip {
								keep = false
							}
						}
						if keep {
							next = append(next, tip)
						}
					}
					next = append(next, name)
					if len(next) > 3 {
						next = next[len(next)-3:]
					}
					if rng.Intn(4) == 0 {
						// Keep the prev as a tip too: a real fork.
						next = append(next, prev[0])
					}
					tips = next
				}
				sets := make([]StateMap, 0, len(tips))
				for _, tip := range tips {
					sets = append(sets, d.stateAfter[tip])
				}
				want, err := Resolve(context.Background(), v, sets, d.fetch, d.authChain)
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 3; i++ {
					perm := rng.Perm(len(sets))
					shuffled := make([]StateMap, len(sets))
					for j, p := range perm {
						shuffled[j] = sets[p]
					}
					got, err := Resolve(context.Background(), v, shuffled, d.fetch, d.authChain)
					if err != nil {
						t.Fatal(err)
					}
					if !equalState(got, want) {
						t.Fatalf("resolution of %d sets differs under permutation %v", len(sets), perm)
					}
				}
			})
		}
	}
}
