package setup

import (
	"net/http"
	"testing"

	"github.com/gorilla/mux"
)

// The segment filter never rules out a path the route's regexp matches, and rules out
// paths with other literals or another number of segments.
func TestSegmentedRouteMayMatch(t *testing.T) {
	tests := []struct {
		template, path string
		want           bool
	}{
		{"/_matrix/client/v3/sync", "/_matrix/client/v3/sync", true},
		{"/_matrix/client/v3/sync", "/_matrix/client/r0/sync", false},
		{"/_matrix/client/v3/sync", "/_matrix/client/v3/sync/", false},
		{"/_matrix/client/v3/sync", "/_matrix/client/v3", false},
		{"/_matrix/client/v3/rooms/{roomId}/messages", "/_matrix/client/v3/rooms/!r:x/messages", true},
		{"/_matrix/client/v3/rooms/{roomId}/messages", "/_matrix/client/v3/rooms/a%2Fb/messages", true},
		{"/_matrix/client/v3/rooms/{roomId}/messages", "/_matrix/client/v3/rooms/!r:x/send/m.room.message/t", false},
		{"/_matrix/client/v3/rooms/{roomId}/event/{eventId}", "/_matrix/client/v3/rooms/!r:x/event/$e", true},
		{"/_matrix/client/v3/rooms/{roomId}/event/{eventId}", "/_matrix/client/v3/rooms/!r:x/context/$e", false},
		{"/_matrix/client/v3/pushrules/", "/_matrix/client/v3/pushrules/", true},
		{"/_matrix/client/v3/pushrules/", "/_matrix/client/v3/pushrules", false},
		// Not filtered: a pattern that may span segments, a variable inside a segment.
		{"/a/{key:.*}", "/a/b/c/d", true},
		{"/a/x{id}", "/a/b", true},
	}
	for _, tc := range tests {
		r := mux.NewRouter().UseEncodedPath()
		route := r.Path(tc.template)
		sr := newSegmentedRoute(route)
		if got := sr.mayMatch(tc.path); got != tc.want {
			t.Errorf("%s on %s: %v, want %v", tc.template, tc.path, got, tc.want)
		}
		// Whenever the route's own regexp matches, the filter must let the path through.
		req, _ := http.NewRequest(http.MethodGet, "http://x"+tc.path, nil)
		var m mux.RouteMatch
		if route.Match(req, &m) && !sr.mayMatch(tc.path) {
			t.Errorf("%s matches %s, the filter says it cannot", tc.template, tc.path)
		}
	}
	// A path prefix is never filtered.
	if sr := newSegmentedRoute(mux.NewRouter().PathPrefix("/a")); sr.segs != nil || !sr.mayMatch("/a/b/c") {
		t.Error("a path prefix is filtered")
	}
}
