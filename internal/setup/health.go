package setup

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/httputil"
)

type healthCheck struct {
	name string
	fn   func(ctx context.Context) error
}

// healthTimeout bounds each health check.
const healthTimeout = 5 * time.Second

// AddHealthCheck registers a check /health runs (concurrently, each bounded to 5s). /health
// answers 200 {"status":"ok"} when every check passes and 503 {"status":"unhealthy"}
// naming the failing checks otherwise. OpenDatabase registers a ping check by itself.
func (b *Base) AddHealthCheck(name string, fn func(ctx context.Context) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checks = append(b.checks, healthCheck{name, fn})
}

func (b *Base) serveHealth(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	checks := append([]healthCheck(nil), b.checks...)
	b.mu.Unlock()
	select {
	case <-b.draining:
		httputil.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "shutting_down"})
		return
	default:
	}
	results := make(map[string]string, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
			defer cancel()
			res := "ok"
			if err := c.fn(ctx); err != nil {
				res = err.Error()
			}
			mu.Lock()
			results[c.name] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	status, code := "ok", http.StatusOK
	for _, res := range results {
		if res != "ok" {
			status, code = "unhealthy", http.StatusServiceUnavailable
		}
	}
	httputil.WriteJSON(w, code, map[string]any{"status": status, "checks": results})
}
