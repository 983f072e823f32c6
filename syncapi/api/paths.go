// Package api is the syncapi's public contract. For now it holds the one list of the
// public paths the syncapi serves (ARCHITECTURE.md §1: GET /sync and the room read
// endpoints, and GET /keys/changes), so that client-api-proxy (ARCHITECTURE.md §4) sends exactly those paths to
// the sync instances and everything else under /_matrix/client to the clientapi. A test in
// syncapi/ proves that this list and the routes syncapi/routing registers are the same.
package api

import "strings"

// ClientPrefixes are the client-server API versions the syncapi serves its routes under.
var ClientPrefixes = []string{"/_matrix/client/v3", "/_matrix/client/r0"}

// Route is one public route of the syncapi.
type Route struct {
	// Method is the HTTP method.
	Method string
	// Path is the gorilla/mux path template, e.g.
	// "/_matrix/client/v3/rooms/{roomId}/messages". A {name} segment matches one
	// non-empty path segment.
	Path string
}

// routeSuffixes are the routes below each of ClientPrefixes.
var routeSuffixes = []struct{ method, suffix string }{
	{"GET", "/sync"},
	{"GET", "/rooms/{roomId}/messages"},
	{"GET", "/rooms/{roomId}/context/{eventId}"},
	{"GET", "/rooms/{roomId}/members"},
	{"GET", "/rooms/{roomId}/joined_members"},
	{"GET", "/rooms/{roomId}/event/{eventId}"},
	{"GET", "/keys/changes"}, // device-list changes: the syncapi owns the positions (docs/wiring.md)
}

// PublicRoutes returns every public route the syncapi serves, under every one of
// ClientPrefixes.
func PublicRoutes() []Route {
	out := make([]Route, 0, len(ClientPrefixes)*len(routeSuffixes))
	for _, p := range ClientPrefixes {
		for _, s := range routeSuffixes {
			out = append(out, Route{Method: s.method, Path: p + s.suffix})
		}
	}
	return out
}

// IsSyncPath reports whether path (the escaped path of a request, as url.URL.EscapedPath
// returns it, so an encoded '/' inside a room ID stays inside its segment) is one of the
// syncapi's public paths, whatever the method. A reverse proxy routes on it: a request
// for a sync path with a method the syncapi does not serve gets the syncapi's 405.
func IsSyncPath(path string) bool {
	for _, p := range ClientPrefixes {
		rest, ok := strings.CutPrefix(path, p)
		if !ok {
			continue
		}
		for _, s := range routeSuffixes {
			if matchTemplate(s.suffix, rest) {
				return true
			}
		}
	}
	return false
}

// matchTemplate matches path against a template whose {name} segments match any one
// non-empty segment and whose other segments match literally.
func matchTemplate(template, path string) bool {
	ts := strings.Split(template, "/")
	ps := strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if t != ps[i] {
			return false
		}
	}
	return true
}
