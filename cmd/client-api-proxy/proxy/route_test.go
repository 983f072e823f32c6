package proxy

import (
	"net/http"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	tests := []struct {
		path string
		want Kind
	}{
		{"/_matrix/client/v3/sync", KindSync},
		{"/_matrix/client/r0/sync", KindSync},
		{"/_matrix/client/v3/rooms/%21r%3Ahs/messages", KindSync},
		{"/_matrix/client/r0/rooms/%21r%3Ahs/context/%24ev", KindSync},
		{"/_matrix/client/v3/rooms/%21r%3Ahs/members", KindSync},
		{"/_matrix/client/v3/rooms/%21r%3Ahs/joined_members", KindSync},
		{"/_matrix/client/v3/rooms/%21r%2Fx%3Ahs/event/%24ev", KindSync},
		{"/_matrix/client/v3/rooms/%21r%3Ahs/send/m.room.message/t1", KindClient},
		{"/_matrix/client/v3/rooms/%21r%3Ahs/state", KindClient},
		{"/_matrix/client/v1/rooms/%21r%3Ahs/hierarchy", KindClient},
		{"/_matrix/client/v3/publicRooms", KindClient},
		{"/_matrix/federation/v1/hierarchy/%21r%3Ahs", KindFederation},
		{"/_matrix/federation/v1/publicRooms", KindFederation},
		{"/_matrix/client/v3/sync/extra", KindClient},
		{"/_matrix/client/v3/login", KindClient},
		{"/_matrix/client/versions", KindClient},
		{"/_matrix/media/v3/upload", KindMedia},
		{"/_matrix/media/r0/download/hs/abc", KindMedia},
		{"/_matrix/media", KindMedia},
		{"/_matrix/mediax", KindClient},
		{"/_matrix/client/v1/media/download/hs/abc", KindMedia},
		{"/_matrix/client/v1/media/config", KindMedia},
		{"/_matrix/client/v3/media/config", KindClient},
		{"/_matrix/federation/v1/media/download/abc", KindMedia},
		{"/_matrix/federation/v1/media/thumbnail/abc", KindMedia},
		{"/_matrix/federation/v1/mediax", KindFederation},
		{"/_matrix/federation/v2/media/download/abc", KindFederation},
		{"/_matrix/federation/v1/send/txn1", KindFederation},
		{"/_matrix/federation/v2/invite/%21r%3Ahs/%24e", KindFederation},
		{"/_matrix/key/v2/server", KindFederation},
		{"/_matrix/keys", KindClient},
		{"/.well-known/matrix/client", KindClient},
		{"/_synapse/admin/v1/register", KindClient},
		{"/", KindClient},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.path, "/", "_"), func(t *testing.T) {
			if got := Route(tt.path); got != tt.want {
				t.Fatalf("Route(%q) = %s, want %s", tt.path, got, tt.want)
			}
		})
	}
}

// TestRoutingThroughProxy sends real requests through the proxy to one upstream per kind
// and checks which upstream answered and that the path (escapes included) and query
// arrived unchanged.
func TestRoutingThroughProxy(t *testing.T) {
	ups := fourKinds(t)
	_, front := startProxy(t, ups)
	tests := []struct {
		method, uri string
		want        Kind
	}{
		{http.MethodGet, "/_matrix/client/v3/sync?since=s1_2&timeout=0", KindSync},
		{http.MethodGet, "/_matrix/client/r0/rooms/%21r%2Fx%3Ahs/messages?dir=b&limit=5", KindSync},
		{http.MethodPost, "/_matrix/client/v3/sync", KindSync},
		{http.MethodPut, "/_matrix/client/v3/rooms/%21r%3Ahs/send/m.room.message/t1", KindClient},
		{http.MethodPost, "/_matrix/client/v3/login", KindClient},
		{http.MethodGet, "/.well-known/matrix/client", KindClient},
		{http.MethodPost, "/_matrix/media/v3/upload?filename=a.png", KindMedia},
		{http.MethodGet, "/_matrix/client/v1/media/download/hs/abc", KindMedia},
		{http.MethodPut, "/_matrix/federation/v1/send/txn1", KindFederation},
		{http.MethodGet, "/_matrix/key/v2/server", KindFederation},
	}
	for _, tt := range tests {
		t.Run(tt.method+strings.ReplaceAll(tt.uri, "/", "_"), func(t *testing.T) {
			code, _, b := do(t, tt.method, front+tt.uri, nil, strings.NewReader(""))
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, b)
			}
			e := decodeEcho(t, b)
			if e.Upstream != string(tt.want) || e.Method != tt.method || e.RequestURI != tt.uri {
				t.Fatalf("got %s %s at %s, want %s %s at %s", e.Method, e.RequestURI, e.Upstream, tt.method, tt.uri, tt.want)
			}
		})
	}
}
