package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestSyncV3Affinity: sync v3 (POST /_matrix/client/{v3,r0}/sync, docs/sync-v3.md) keeps
// its sessions on the sync instance that created them, so every POST /sync of one access
// token goes to the instance its GET /sync goes to (rendezvous hash of the token over the
// healthy instances), with the body passed through; only that token's requests move when
// its instance dies, and they then stay on the new one.
func TestSyncV3Affinity(t *testing.T) {
	ups := fourKinds(t)
	a, b, c := newUpstream(t, "sync-a", nil), newUpstream(t, "sync-b", nil), newUpstream(t, "sync-c", nil)
	ups[KindSync] = []*fakeUpstream{a, b, c}
	p, front := startProxy(t, ups)
	serve := func(method, path, token string) echo {
		var body *strings.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"to_device":{}}`)
		} else {
			body = strings.NewReader("")
		}
		code, _, raw := do(t, method, front+path, map[string]string{"Authorization": "Bearer " + token}, body)
		if code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, code, raw)
		}
		e := decodeEcho(t, raw)
		if e.Method != method {
			t.Fatalf("%s %s reached the upstream as %s", method, path, e.Method)
		}
		return e
	}
	home := map[string]string{}
	for i := range 20 {
		token := fmt.Sprintf("v3-token-%d", i)
		want := serve(http.MethodGet, "/_matrix/client/v3/sync", token).Upstream
		for _, path := range []string{"/_matrix/client/v3/sync", "/_matrix/client/v3/sync?since=v3_x_1_1_0&timeout=0", "/_matrix/client/r0/sync"} {
			for range 3 {
				if got := serve(http.MethodPost, path, token).Upstream; got != want {
					t.Fatalf("%s: POST %s on %s, GET /sync on %s", token, path, got, want)
				}
			}
		}
		home[token] = want
	}
	// sync-b dies (its health check fails; a POST is not retried on a connect failure, so
	// the client would see one 502 before the proxy noticed): only its tokens move, and
	// each stays on its new instance.
	b.Close()
	p.CheckNow(context.Background())
	for token, was := range home {
		now := serve(http.MethodPost, "/_matrix/client/v3/sync", token).Upstream
		if now == "sync-b" || (was != "sync-b" && now != was) {
			t.Fatalf("%s was on %s, after sync-b died POST /sync went to %s", token, was, now)
		}
		if again := serve(http.MethodPost, "/_matrix/client/v3/sync", token).Upstream; again != now {
			t.Fatalf("%s moved again: %s then %s", token, now, again)
		}
	}
}
