package parallel

import (
	"sync/atomic"
	"testing"
)

func TestEach(t *testing.T) {
	for _, tc := range []struct {
		name         string
		n, perWorker int
	}{
		{"none", 0, 64},
		{"fewer than one worker's share", 10, 64},
		{"one short of two workers' shares", 127, 64},
		{"two workers' shares", 128, 64},
		{"just over", 129, 64},
		{"many", 10000, 64},
		{"one per worker", 37, 1},
		{"per worker below one", 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := make([]int32, tc.n)
			var total atomic.Int64
			Each(tc.n, tc.perWorker, func(i int) {
				atomic.AddInt32(&calls[i], 1)
				total.Add(1)
			})
			if total.Load() != int64(tc.n) {
				t.Fatalf("%d calls, want %d", total.Load(), tc.n)
			}
			for i, c := range calls {
				if c != 1 {
					t.Fatalf("index %d called %d times", i, c)
				}
			}
		})
	}
}
