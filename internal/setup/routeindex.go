package setup

import (
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
)

// RouteIndex holds a component's routes below parent in groups, one gorilla/mux router per
// pair of leading path segments ("v3/rooms", "r0/profile"; a one-segment path such as
// "/versions" is its own group). A request looks up its group with a map lookup and only
// that group's routes are tried, in the order they were registered; gorilla/mux still does
// the matching. On a router that is tried route by route (and that re-runs the prefix
// regexps of its ancestors for each route) a message send used to run some 250 regexps;
// through the index it runs the few of /v3/rooms.
//
// Routes from different groups cannot match the same path, so the groups keep the
// registration order's answers. A path whose first two segments are not both literal
// (a variable among them) goes to a last group tried after the looked-up one. A known path
// with the wrong method is 405 M_UNRECOGNIZED (within a group gorilla/mux does not lose the
// method mismatch: its routes carry no prefix matchers of their own); a path no route
// knows falls through to parent's later routes and its 404 M_UNRECOGNIZED.
type RouteIndex struct {
	prefix string
	all    *mux.Router // the groups, as subrouters, so Walk reaches their routes
	groups map[string]*routeGroup
	rest   *routeGroup // paths without two leading literal segments; nil if none
	once   sync.Once
}

// routeGroup is one group's router and, once indexed, its routes with their path
// segments, so that a request tries the regexps of the routes whose segments fit only.
type routeGroup struct {
	router *mux.Router
	// routes are router's routes, in order; nil when router holds subrouters (or has no
	// routes), which router.Match then handles.
	routes []segmentedRoute
}

// NewRouteIndex adds a route index to parent, a router whose routes are below prefix (the
// base's PublicClientAPIMux and "/_matrix/client"). It is tried at this point of parent's
// routes.
func NewRouteIndex(parent *mux.Router, prefix string) *RouteIndex {
	x := &RouteIndex{prefix: strings.TrimRight(prefix, "/"), all: mux.NewRouter().SkipClean(true),
		groups: map[string]*routeGroup{}}
	// The handler is never used (match sets the matched route's); it lets Walk reach
	// the groups' routes.
	parent.MatcherFunc(x.match).Handler(x.all)
	return x
}

// Router returns the router to register path on (a path relative to parent, as it would
// be registered on parent) and the path to register there: the full path, so route
// templates (and the metrics labels made from them) stay what they were. Register routes
// only (no middlewares: those go on parent), and all of them before the process serves:
// the first request indexes each group's routes by their path segments.
func (x *RouteIndex) Router(path string) (*mux.Router, string) {
	key, ok := templateKey(path)
	if !ok {
		if x.rest == nil {
			x.rest = x.newGroup()
		}
		return x.rest.router, x.prefix + path
	}
	g := x.groups[key]
	if g == nil {
		g = x.newGroup()
		x.groups[key] = g
	}
	return g.router, x.prefix + path
}

func (x *RouteIndex) newGroup() *routeGroup {
	g := x.all.NewRoute().Subrouter()
	g.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusMethodNotAllowed))
	})
	return &routeGroup{router: g}
}

// index lists each group's routes with their path segments.
func (x *RouteIndex) index() {
	for _, g := range x.groups {
		g.index()
	}
	if x.rest != nil {
		x.rest.index()
	}
}

func (g *routeGroup) index() {
	var routes []segmentedRoute
	flat := true
	_ = g.router.Walk(func(route *mux.Route, _ *mux.Router, ancestors []*mux.Route) error {
		if len(ancestors) > 0 {
			flat = false
		}
		routes = append(routes, newSegmentedRoute(route))
		return nil
	})
	if flat {
		g.routes = routes
	}
}

// match tries the group's routes as its router would (gorilla/mux's Router.Match, for a
// router without subrouters or middlewares), skipping the routes whose path segments do not
// fit: their path regexp, which a route built with Handle or Path tries first, would fail
// and leave the match as it was.
func (g *routeGroup) match(req *http.Request, path string, m *mux.RouteMatch) bool {
	if g.routes == nil {
		return g.router.Match(req, m)
	}
	for i := range g.routes {
		if g.routes[i].mayMatch(path) && g.routes[i].route.Match(req, m) {
			return true
		}
	}
	if m.MatchErr == mux.ErrMethodMismatch {
		m.Handler = g.router.MethodNotAllowedHandler
		return true
	}
	return false
}

// match is parent's matcher: the request's group decides. A match hands the matched
// route, its handler and its variables to parent's match, so parent's middlewares
// (unescapeVars, recordRoute) see them as those of one of parent's own routes.
func (x *RouteIndex) match(req *http.Request, match *mux.RouteMatch) bool {
	x.once.Do(x.index)
	path := req.URL.Path // the escaped path (matchEscaped)
	if !strings.HasPrefix(path, x.prefix) {
		return false
	}
	if g := x.groups[requestKey(path[len(x.prefix):])]; g != nil && tryGroup(g, req, path, match) {
		return true
	}
	return x.rest != nil && tryGroup(x.rest, req, path, match)
}

func tryGroup(g *routeGroup, req *http.Request, path string, match *mux.RouteMatch) bool {
	var m mux.RouteMatch
	if !g.match(req, path, &m) {
		return false
	}
	match.Handler = m.Handler
	if m.MatchErr == nil {
		match.Route, match.Vars = m.Route, m.Vars
	}
	return true
}

// templateKey is the group of a path template: its first two segments, or its only
// segment, when they are literal.
func templateKey(path string) (string, bool) {
	if !strings.HasPrefix(path, "/") {
		return "", false
	}
	parts := strings.SplitN(path[1:], "/", 3)
	if len(parts) > 2 {
		parts = parts[:2]
	}
	for _, p := range parts {
		if strings.ContainsAny(p, "{}") {
			return "", false
		}
	}
	return strings.Join(parts, "/"), true
}

// requestKey is the group a request path (relative to the index's prefix) looks up: the
// same segments as templateKey's, without allocating.
func requestKey(rel string) string {
	if !strings.HasPrefix(rel, "/") {
		return "\x00" // no group: the path only shares the prefix's characters
	}
	rel = rel[1:]
	i := strings.IndexByte(rel, '/')
	if i < 0 {
		return rel
	}
	if j := strings.IndexByte(rel[i+1:], '/'); j >= 0 {
		return rel[:i+1+j]
	}
	return rel
}
