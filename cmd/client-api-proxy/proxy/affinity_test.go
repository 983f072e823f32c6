package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAccessToken(t *testing.T) {
	tests := []struct {
		name, header, query, want string
	}{
		{"bearer header", "Bearer abc", "", "abc"},
		{"scheme case-insensitive", "bearer abc", "", "abc"},
		{"query parameter", "", "access_token=xyz", "xyz"},
		{"header wins over query", "Bearer abc", "access_token=xyz", "abc"},
		{"other scheme", "Basic abc", "", ""},
		{"none", "", "", ""},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/sync?"+tc.query, nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		if got := accessToken(r); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSyncAffinity: a client's sync requests (/sync, /messages, /event) all go to one
// instance, chosen by its access token; different clients spread over the instances;
// when a client's instance dies it moves to another and stays there, while the clients
// of the surviving instances do not move.
func TestSyncAffinity(t *testing.T) {
	ups := fourKinds(t)
	a, b, c := newUpstream(t, "sync-a", nil), newUpstream(t, "sync-b", nil), newUpstream(t, "sync-c", nil)
	ups[KindSync] = []*fakeUpstream{a, b, c}
	p, front := startProxy(t, ups)
	paths := []string{"/_matrix/client/v3/sync?since=s1_1", "/_matrix/client/v3/rooms/!r:x/messages?dir=b",
		"/_matrix/client/v3/rooms/!r:x/event/$e", "/_matrix/client/r0/sync"}
	served := func(token string) map[string]int {
		got := map[string]int{}
		for _, path := range paths {
			for range 3 {
				code, _, body := do(t, http.MethodGet, front+path, map[string]string{"Authorization": "Bearer " + token}, nil)
				if code != http.StatusOK {
					t.Fatalf("%s: %d %s", path, code, body)
				}
				got[decodeEcho(t, body).Upstream]++
			}
		}
		return got
	}
	home := map[string]string{}
	perInstance := map[string]int{}
	for i := range 30 {
		token := fmt.Sprintf("token-%d", i)
		got := served(token)
		if len(got) != 1 {
			t.Fatalf("%s served by %v, want one instance", token, got)
		}
		for name := range got {
			home[token] = name
			perInstance[name]++
		}
	}
	if len(perInstance) != 3 {
		t.Fatalf("30 clients over 3 instances: %v", perInstance)
	}

	a.Close() // sync-a dies
	for token, was := range home {
		got := served(token)
		if len(got) != 1 {
			t.Fatalf("%s after the kill served by %v, want one instance", token, got)
		}
		for name := range got {
			if name == "sync-a" || (was != "sync-a" && name != was) {
				t.Fatalf("%s was on %s, after sync-a died served by %s", token, was, name)
			}
		}
	}
	if p.Upstreams()[KindSync][a.URL] {
		t.Fatal("the dead instance is still marked healthy")
	}
}
