package internal

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelMin is the fewest items eachParallel gives each goroutine: below it the work is
// done on the calling goroutine.
const parallelMin = 64

// eachParallel calls f(i) for every i in [0, n) on up to GOMAXPROCS goroutines and returns
// when every call has returned. f must only read shared state, and write its own index's
// result.
func eachParallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+parallelMin-1)/parallelMin)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		}()
	}
	wg.Wait()
}
