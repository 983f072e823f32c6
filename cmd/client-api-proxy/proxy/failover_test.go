package proxy

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestSyncFailover: two sync instances share /sync; one is killed mid-run, before any
// health check notices. Every later /sync succeeds on the other one (the first that hits
// the dead instance is retried there), the dead one is marked down, and the metrics show
// the failed connect.
func TestSyncFailover(t *testing.T) {
	ups := fourKinds(t)
	a := newUpstream(t, "sync-a", nil)
	b := newUpstream(t, "sync-b", nil)
	ups[KindSync] = []*fakeUpstream{a, b}
	p, front := startProxy(t, ups)

	served := map[string]int{}
	for range 10 {
		code, _, body := do(t, http.MethodGet, front+"/_matrix/client/v3/sync?since=s1_1", nil, nil)
		if code != http.StatusOK {
			t.Fatalf("before the kill: %d %s", code, body)
		}
		served[decodeEcho(t, body).Upstream]++
	}
	if served["sync-a"] == 0 || served["sync-b"] == 0 {
		t.Fatalf("two healthy instances, but served by %v", served)
	}

	a.Close() // killed; its port now refuses connections
	for i := range 20 {
		code, _, body := do(t, http.MethodGet, front+"/_matrix/client/v3/sync?since=s1_1", nil, nil)
		if code != http.StatusOK {
			t.Fatalf("request %d after the kill: %d %s", i, code, body)
		}
		if e := decodeEcho(t, body); e.Upstream != "sync-b" || e.RequestURI != "/_matrix/client/v3/sync?since=s1_1" {
			t.Fatalf("request %d after the kill served as %+v", i, e)
		}
	}
	if p.Upstreams()[KindSync][a.URL] {
		t.Fatal("the dead instance is still marked healthy")
	}
	l := metricLine(t, front, `axon_proxy_upstream_requests_total{code="error",kind="sync",upstream="`+a.URL+`"}`)
	if l == "" || strings.HasSuffix(l, " 0") {
		t.Fatalf("no failed request counted for the dead instance: %q", l)
	}
}

// TestSyncSpreadsByInFlight: long-polls held open on the sync instances are spread evenly:
// each new one goes to the instance with the fewest in flight.
func TestSyncSpreadsByInFlight(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan string)
	held := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			arrived <- name
			select {
			case <-release:
			case <-r.Context().Done():
			}
			_, _ = w.Write([]byte(`{}`))
		}
	}
	ups := fourKinds(t)
	ups[KindSync] = []*fakeUpstream{newUpstream(t, "sync-a", held("sync-a")), newUpstream(t, "sync-b", held("sync-b")),
		newUpstream(t, "sync-c", held("sync-c"))}
	_, front := startProxy(t, ups)

	const n = 9
	var wg sync.WaitGroup
	codes := make(chan int, n)
	got := map[string]int{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(front + "/_matrix/client/v3/sync?timeout=30000")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
		got[<-arrived]++ // the next one starts once this one is parked upstream
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Fatalf("status %d", c)
		}
	}
	for _, name := range []string{"sync-a", "sync-b", "sync-c"} {
		if got[name] != n/3 {
			t.Fatalf("long-polls per instance %v, want %d each", got, n/3)
		}
	}
}
