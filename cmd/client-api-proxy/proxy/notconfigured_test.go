package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// TestHealthWithKindsNotConfigured: a kind with no upstream configured (media and
// federation until they have binaries) never fails /health; a configured kind fails it only
// when none of its upstreams is healthy; the JSON says the state of every kind and lists
// the upstreams that are down.
func TestHealthWithKindsNotConfigured(t *testing.T) {
	client := newUpstream(t, "client", nil)
	syncA := newUpstream(t, "sync-a", nil)
	syncB := newUpstream(t, "sync-b", nil)
	p, front := startProxy(t, map[Kind][]*fakeUpstream{KindClient: {client}, KindSync: {syncA, syncB}})
	steps := []struct {
		name               string
		clientUp, aUp, bUp bool
		wantCode           int
		wantStatus         string
		wantKinds          map[string]string
		wantDown           map[string][]string
	}{
		{"all configured up", true, true, true, http.StatusOK, "ok",
			map[string]string{"client": "up", "sync": "up", "media": "not_configured", "federation": "not_configured"},
			map[string][]string{}},
		{"one sync instance down", true, false, true, http.StatusOK, "ok",
			map[string]string{"client": "up", "sync": "degraded", "media": "not_configured", "federation": "not_configured"},
			map[string][]string{"sync": {syncA.URL}}},
		{"client down", false, true, true, http.StatusServiceUnavailable, "unhealthy",
			map[string]string{"client": "down", "sync": "up", "media": "not_configured", "federation": "not_configured"},
			map[string][]string{"client": {client.URL}}},
		{"every sync instance down", true, false, false, http.StatusServiceUnavailable, "unhealthy",
			map[string]string{"client": "up", "sync": "down", "media": "not_configured", "federation": "not_configured"},
			map[string][]string{"sync": {syncA.URL, syncB.URL}}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			client.healthy.Store(s.clientUp)
			syncA.healthy.Store(s.aUp)
			syncB.healthy.Store(s.bUp)
			p.CheckNow(context.Background())
			code, _, body := do(t, http.MethodGet, front+"/health", nil, nil)
			var h health
			if err := json.Unmarshal(body, &h); err != nil {
				t.Fatalf("/health: %v: %s", err, body)
			}
			if code != s.wantCode || h.Status != s.wantStatus || !reflect.DeepEqual(h.Kinds, s.wantKinds) || !reflect.DeepEqual(h.Down, s.wantDown) {
				t.Fatalf("/health %d %s; want %d, status %s, kinds %v, down %v", code, body, s.wantCode, s.wantStatus, s.wantKinds, s.wantDown)
			}
		})
	}
}

// TestKindNotConfigured: a path of a kind with no upstream gets 404 M_UNRECOGNIZED (what
// the monolith answers for paths nothing serves), not a 502 that would look like an outage.
func TestKindNotConfigured(t *testing.T) {
	_, front := startProxy(t, map[Kind][]*fakeUpstream{KindClient: {newUpstream(t, "client", nil)}, KindSync: {newUpstream(t, "sync", nil)}})
	for _, path := range []string{"/_matrix/media/v3/config", "/_matrix/client/v1/media/config", "/_matrix/federation/v1/version", "/_matrix/key/v2/server"} {
		code, hdr, b := do(t, http.MethodGet, front+path, nil, nil)
		var body map[string]string
		if err := json.Unmarshal(b, &body); err != nil || code != http.StatusNotFound || body["errcode"] != "M_UNRECOGNIZED" || body["error"] == "" {
			t.Fatalf("%s: %d %s, want 404 M_UNRECOGNIZED", path, code, b)
		}
		if hdr.Get(RequestIDHeader) == "" {
			t.Errorf("%s: no request ID", path)
		}
	}
	if code, _, b := do(t, http.MethodGet, front+"/_matrix/client/v3/login", nil, nil); code != http.StatusOK {
		t.Fatalf("client API: %d %s", code, b)
	}
}
