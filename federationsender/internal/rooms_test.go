package internal

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/axon-matrix/axon/federationsender/api"
)

// TestQueryRemotePublicRooms: arrow 7 asks the server (GET, or POST with a filter), passes
// the parameters on, drops entries without a room ID and maps failures.
func TestQueryRemotePublicRooms(t *testing.T) {
	var last atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		last.Store(r.Method + " " + r.URL.RequestURI() + " " + string(body))
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.Contains(r.URL.RawQuery, "since=bad"):
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"errcode":"M_INVALID_PARAM","error":"bad since"}`))
		case strings.Contains(r.URL.RawQuery, "since=boom"):
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.Write([]byte(`{"chunk":[{"room_id":"!a:x","name":"A","num_joined_members":2},{"name":"no id"}],"next_batch":"n1","total_room_count_estimate":7}`))
		}
	}))
	defer srv.Close()
	dest := srv.Listener.Addr().String()
	a := &API{ServerName: testOrigin, Client: testClient(t, testKey(t, "k1"))}
	ctx := context.Background()
	tests := []struct {
		name     string
		req      api.QueryRemotePublicRoomsRequest
		wantReq  string
		wantCode string
		wantN    int
	}{
		{"get", api.QueryRemotePublicRoomsRequest{Server: dest, Limit: 5, Since: "s", ThirdPartyInstanceID: "irc"},
			"GET /_matrix/federation/v1/publicRooms?limit=5&since=s&third_party_instance_id=irc ", "", 1},
		{"post with filter", api.QueryRemotePublicRoomsRequest{Server: dest, Filter: "foo", IncludeAllNetworks: true},
			`POST /_matrix/federation/v1/publicRooms {"filter":{"generic_search_term":"foo"},"include_all_networks":true}`, "", 1},
		{"remote 400 passed on", api.QueryRemotePublicRoomsRequest{Server: dest, Since: "bad"}, "", "M_INVALID_PARAM", 0},
		{"remote 500 is 502", api.QueryRemotePublicRoomsRequest{Server: dest, Since: "boom"}, "", "M_UNKNOWN", 0},
		{"unreachable is 502", api.QueryRemotePublicRoomsRequest{Server: "127.0.0.1:1"}, "", "M_UNKNOWN", 0},
		{"own server", api.QueryRemotePublicRoomsRequest{Server: testOrigin}, "", "M_INVALID_PARAM", 0},
		{"bad server name", api.QueryRemotePublicRoomsRequest{Server: "no such/server"}, "", "M_INVALID_PARAM", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := a.QueryRemotePublicRooms(ctx, &tt.req)
			if tt.wantCode != "" {
				if errCodeOf(err) != tt.wantCode {
					t.Fatalf("err %v, want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil || len(resp.Chunk) != tt.wantN || resp.NextBatch != "n1" || resp.Total != 7 {
				t.Fatalf("%+v %v", resp, err)
			}
			if got, _ := last.Load().(string); got != tt.wantReq {
				t.Errorf("request %q, want %q", got, tt.wantReq)
			}
		})
	}
}

// TestQueryRemoteHierarchy: the servers are tried in turn until one answers with the room;
// the answer is remembered; a wrong room or no answer is M_NOT_FOUND.
func TestQueryRemoteHierarchy(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.EscapedPath() {
		case "/_matrix/federation/v1/hierarchy/%21space:x":
			if r.URL.Query().Get("suggested_only") != "true" {
				w.Write([]byte(`{"room":{"room_id":"!space:x","children_state":[]},"children":[{"room_id":"!c:x"},{"nope":1}],"inaccessible_children":["!secret:x","bad"]}`))
				return
			}
			w.Write([]byte(`{"room":{"room_id":"!other:x"},"children":[],"inaccessible_children":[]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errcode":"M_NOT_FOUND","error":"unknown"}`))
		}
	}))
	defer srv.Close()
	dest := srv.Listener.Addr().String()
	a := &API{ServerName: testOrigin, Client: testClient(t, testKey(t, "k1"))}
	ctx := context.Background()
	for i := 0; i < 2; i++ { // the second time from the cache
		resp, err := a.QueryRemoteHierarchy(ctx, &api.QueryRemoteHierarchyRequest{RoomID: "!space:x",
			Servers: []string{testOrigin, "127.0.0.1:1", dest}})
		if err != nil || resp.Origin != dest || len(resp.Children) != 1 || len(resp.InaccessibleChildren) != 1 || resp.InaccessibleChildren[0] != "!secret:x" {
			t.Fatalf("round %d: %+v %v", i, resp, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d requests, want 1 (the second answer from the cache)", n)
	}
	for name, req := range map[string]api.QueryRemoteHierarchyRequest{
		"wrong room answered": {RoomID: "!space:x", Servers: []string{dest}, SuggestedOnly: true},
		"unknown room":        {RoomID: "!gone:x", Servers: []string{dest}},
		"no servers":          {RoomID: "!gone:x"},
	} {
		if _, err := a.QueryRemoteHierarchy(ctx, &req); errCodeOf(err) != "M_NOT_FOUND" {
			t.Errorf("%s: %v, want M_NOT_FOUND", name, err)
		}
	}
	if _, err := a.QueryRemoteHierarchy(ctx, &api.QueryRemoteHierarchyRequest{RoomID: "space"}); errCodeOf(err) != "M_INVALID_PARAM" {
		t.Errorf("bad room ID: %v", err)
	}
}

// TestQueryRemoteHierarchyBounded: what is kept of another server's /hierarchy answer, and
// so remembered, is bounded (maxHierarchyAnswerBytes): children past the bound are left
// out, a room summary larger than it alone is no answer, and the cache holds at most
// maxHierarchyCacheBytes of answers together.
func TestQueryRemoteHierarchyBounded(t *testing.T) {
	pad := strings.Repeat("x", 64<<10)
	child := func(i int) string { return `{"room_id":"!c` + strconv.Itoa(i) + `:x","topic":"` + pad + `"}` }
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.EscapedPath() {
		case "/_matrix/federation/v1/hierarchy/%21huge:x":
			w.Write([]byte(`{"room":{"room_id":"!huge:x","topic":"` + strings.Repeat("y", 2<<20) + `"},"children":[],"inaccessible_children":[]}`))
		default: // !sN:x, with 64 children of 64 KiB: 4 MiB
			id, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/_matrix/federation/v1/hierarchy/"))
			kids := make([]string, 64)
			for i := range kids {
				kids[i] = child(i)
			}
			w.Write([]byte(`{"room":{"room_id":"` + id + `"},"children":[` + strings.Join(kids, ",") + `],"inaccessible_children":["!i:x"]}`))
		}
	}))
	defer srv.Close()
	dest := srv.Listener.Addr().String()
	a := &API{ServerName: testOrigin, Client: testClient(t, testKey(t, "k1"))}
	ctx := context.Background()
	if _, err := a.QueryRemoteHierarchy(ctx, &api.QueryRemoteHierarchyRequest{RoomID: "!huge:x", Servers: []string{dest}}); errCodeOf(err) != "M_NOT_FOUND" {
		t.Fatalf("room summary over the bound: %v, want M_NOT_FOUND", err)
	}
	for i := 0; i < 40; i++ {
		resp, err := a.QueryRemoteHierarchy(ctx, &api.QueryRemoteHierarchyRequest{RoomID: "!s" + strconv.Itoa(i) + ":x", Servers: []string{dest}})
		if err != nil {
			t.Fatal(err)
		}
		if n := hierarchySize(resp); n > maxHierarchyAnswerBytes {
			t.Fatalf("answer %d keeps %d bytes, more than %d", i, n, maxHierarchyAnswerBytes)
		}
		if len(resp.Children) == 0 || len(resp.Children) == 64 || len(resp.InaccessibleChildren) != 1 {
			t.Fatalf("answer %d: %d children, %v inaccessible; want some of the 64 children left out", i, len(resp.Children), resp.InaccessibleChildren)
		}
		a.hierarchy.mu.Lock()
		size := a.hierarchy.size
		a.hierarchy.mu.Unlock()
		if size > maxHierarchyCacheBytes {
			t.Fatalf("after %d answers the cache holds %d bytes, more than %d", i+1, size, maxHierarchyCacheBytes)
		}
	}
}
