package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// profileServer asks the server's pprof listener (base URL) for a CPU profile of the next
// d (whole seconds, at least one) and writes it to out; the returned channel closes when
// it is written or failed (reported on standard error). The load tool starts it as the
// send phase starts, to see what the first seconds cost, which a profile taken by hand
// misses.
func profileServer(ctx context.Context, base, out string, d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	secs := max(1, int(d/time.Second))
	go func() {
		defer close(done)
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(base, "/"), secs)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "axon-loadtest: server profile:", err)
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "axon-loadtest: server profile:", err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintf(os.Stderr, "axon-loadtest: server profile: HTTP %d\n", resp.StatusCode)
			return
		}
		f, err := os.Create(out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "axon-loadtest: server profile:", err)
			return
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			fmt.Fprintln(os.Stderr, "axon-loadtest: server profile:", err)
		}
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "axon-loadtest: server profile:", err)
		}
	}()
	return done
}
