package internal

import (
	"sync/atomic"
	"testing"
)

func TestEachParallelCallsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, parallelMin - 1, parallelMin, parallelMin + 1, 5000} {
		calls := make([]atomic.Int32, n)
		eachParallel(n, func(i int) { calls[i].Add(1) })
		for i := range calls {
			if got := calls[i].Load(); got != 1 {
				t.Fatalf("n=%d: index %d called %d times, want 1", n, i, got)
			}
		}
	}
}
