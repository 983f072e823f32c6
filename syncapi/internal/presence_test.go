package internal

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"

	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// TestPresenceChanged: the record of the newest changes answers as a scan of every user
// would, with records in order, out of order and past the bound of the record.
func TestPresenceChanged(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n, users int
		shuffle  bool
	}{{"in order", 50, 7, false}, {"out of order", 50, 7, true}, {"past the bound", 3 * maxRecentPresence, 40, false},
		{"out of order past the bound", 3 * maxRecentPresence, 2000, true}} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewNotifier(types.StreamToken{})
			positions := make([]int64, tc.n)
			for i := range positions {
				positions[i] = int64(i + 1)
			}
			if tc.shuffle {
				r := rand.New(rand.NewPCG(1, 2))
				r.Shuffle(len(positions), func(i, j int) { positions[i], positions[j] = positions[j], positions[i] })
			}
			for _, pos := range positions {
				n.PresenceStored(storage.Presence{UserID: fmt.Sprintf("@u%d:test", pos%int64(tc.users)), Presence: "online", StreamPos: pos})
			}
			// What a scan of the users finds.
			scan := func(since, upTo int64) []string {
				var out []string
				for _, p := range n.presence.users {
					if p.StreamPos > since && p.StreamPos <= upTo {
						out = append(out, p.UserID)
					}
				}
				sort.Strings(out)
				return out
			}
			last := int64(tc.n)
			for _, since := range []int64{0, 1, last / 2, last - 3, last - 1, last} {
				for _, upTo := range []int64{last, last - 1} {
					var got []string
					for _, p := range n.presenceChanged(since, upTo) {
						got = append(got, p.UserID)
					}
					sort.Strings(got)
					if want := scan(since, upTo); !reflect.DeepEqual(got, want) {
						t.Fatalf("since %d up to %d: %v, want %v", since, upTo, got, want)
					}
				}
			}
		})
	}
}
