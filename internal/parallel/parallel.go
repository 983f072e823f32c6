// Package parallel runs independent work items on the machine's cores: signature checks
// of a federation transaction or of a send_join answer, the auth checks of one level of a
// joined room's auth chain.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Each calls f(i) for every i in [0, n) on up to GOMAXPROCS goroutines, giving each at
// least perWorker items (fewer workers for few items; one: the calling goroutine), and
// returns when every call has returned. f must only read shared state and write its own
// index's result.
func Each(n, perWorker int, f func(i int)) {
	perWorker = max(1, perWorker)
	workers := min(runtime.GOMAXPROCS(0), (n+perWorker-1)/perWorker)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
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
