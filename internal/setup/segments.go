package setup

import (
	"strings"

	"github.com/gorilla/mux"
)

// segmentedRoute is a route with the segments of its path template, a cheap filter in
// front of the route's own regexps: a path whose segments do not fit cannot match them.
type segmentedRoute struct {
	route *mux.Route
	// segs are the template's segments after its leading '/'; nil when the template
	// cannot be filtered this way (no path, a path prefix, a variable with its own
	// pattern, which may span segments, or a variable inside a segment), so the route is
	// a candidate for every path.
	segs []segment
}

// segment is one segment of a path template: a literal, or a whole-segment {variable}
// with gorilla/mux's default pattern [^/]+.
type segment struct {
	literal  string
	variable bool
}

func newSegmentedRoute(route *mux.Route) segmentedRoute {
	sr := segmentedRoute{route: route}
	tpl, err := route.GetPathTemplate()
	if err != nil || !strings.HasPrefix(tpl, "/") {
		return sr
	}
	if re, err := route.GetPathRegexp(); err != nil || !strings.HasSuffix(re, "$") {
		return sr // a path prefix
	}
	parts := strings.Split(tpl[1:], "/")
	segs := make([]segment, len(parts))
	for i, p := range parts {
		switch {
		case !strings.ContainsAny(p, "{}"):
			segs[i] = segment{literal: p}
		case p[0] == '{' && p[len(p)-1] == '}' && !strings.ContainsAny(p[1:len(p)-1], "{}:"):
			segs[i] = segment{variable: true}
		default:
			return sr
		}
	}
	sr.segs = segs
	return sr
}

// mayMatch reports whether path (escaped, as the route's regexps see it) has the
// template's segments: as many, and the same literals. A false is certain; a true leaves
// the answer to the route.
func (sr *segmentedRoute) mayMatch(path string) bool {
	if sr.segs == nil {
		return true
	}
	rest := path
	for _, s := range sr.segs {
		if rest == "" || rest[0] != '/' {
			return false
		}
		rest = rest[1:]
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i:]
		} else {
			rest = ""
		}
		if !s.variable && seg != s.literal {
			return false
		}
	}
	return rest == ""
}
