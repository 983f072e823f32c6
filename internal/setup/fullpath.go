package setup

import (
	"net/http"
	"sync"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
)

// FullPathRouter returns a router for a component that registers full paths
// ("/_matrix/client/v3/sync") while the process base's client router is mounted at
// /_matrix/client: every request the returned router matches is handed to it from parent,
// with 405 M_UNRECOGNIZED for a known path and the wrong method, and parent's answers for
// everything else (404 M_UNRECOGNIZED). Like the base's routers it matches the escaped
// path, so a %2F stays inside its path variable, and hands handlers the unescaped values;
// the metrics label a request with the template of the route it matched.
//
// Register every route before the process serves: the first request indexes the
// returned router's routes by their literal path segments, so that the requests of the
// routes registered after it on parent (for the monolith, all of the clientapi's, a message
// send among them) pass by after a few string comparisons rather than a regexp match of
// each of the returned router's routes under five methods.
func FullPathRouter(parent *mux.Router) *mux.Router {
	f := &fullPathRouter{router: mux.NewRouter().SkipClean(true)}
	// Only reached when served directly, not through parent: parent's matcher answers a
	// known path with the wrong method itself.
	wrongMethod := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusMethodNotAllowed))
	})
	f.router.NotFoundHandler, f.router.MethodNotAllowedHandler = wrongMethod, wrongMethod
	f.wrongMethod = wrongMethod
	// The handler is never used (match sets the matched route's); it lets Walk reach the
	// router's routes.
	parent.MatcherFunc(f.match).Handler(f.router)
	return f.router
}

type fullPathRouter struct {
	router      *mux.Router
	wrongMethod http.Handler
	once        sync.Once
	routes      []segmentedRoute // the router's routes other than subrouters
}

// match is parent's matcher. The request's own method is tried first; only when that
// finds no route are the candidate routes asked whether they know the path under another
// method (gorilla/mux loses that across subrouters, so the router's answer is not relied
// on). A match hands the matched route, its handler (with the router's middlewares) and
// its variables to parent's match, so parent's middlewares (unescapeVars, recordRoute)
// see them as those of one of its own routes.
func (f *fullPathRouter) match(req *http.Request, match *mux.RouteMatch) bool {
	f.once.Do(f.index)
	path := req.URL.Path // the escaped path (matchEscaped)
	candidate := false
	for i := range f.routes {
		if f.routes[i].mayMatch(path) {
			candidate = true
			break
		}
	}
	if !candidate {
		return false
	}
	var m mux.RouteMatch
	if f.router.Match(req, &m) && m.MatchErr == nil {
		match.Route, match.Handler, match.Vars = m.Route, m.Handler, m.Vars
		return true
	}
	for i := range f.routes {
		var rm mux.RouteMatch
		if f.routes[i].mayMatch(path) && !f.routes[i].route.Match(req, &rm) && rm.MatchErr == mux.ErrMethodMismatch {
			match.Handler = f.wrongMethod
			return true
		}
	}
	return false
}

// index lists the router's routes with their path segments.
func (f *fullPathRouter) index() {
	var all []*mux.Route
	subrouters := map[*mux.Route]bool{}
	_ = f.router.Walk(func(route *mux.Route, _ *mux.Router, ancestors []*mux.Route) error {
		all = append(all, route)
		for _, a := range ancestors {
			subrouters[a] = true
		}
		return nil
	})
	for _, route := range all {
		if !subrouters[route] {
			f.routes = append(f.routes, newSegmentedRoute(route))
		}
	}
}
