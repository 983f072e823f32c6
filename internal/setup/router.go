package setup

import (
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
)

// newRootRouter makes a router that matches on the escaped path, so a %2F inside a path
// variable (room aliases, room v3 event IDs) stays inside that variable, and hands
// handlers the unescaped values through mux.Vars as usual. Paths are not cleaned (no
// redirects that would turn a PUT into a GET). Unknown paths get 404 M_UNRECOGNIZED, known
// paths with the wrong method 405 M_UNRECOGNIZED (client-server API, "Common error codes").
func newRootRouter() *mux.Router {
	r := mux.NewRouter().SkipClean(true).UseEncodedPath()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusMethodNotAllowed))
	})
	r.Use(unescapeVars, recordRoute)
	return r
}

// unescapeVars replaces the escaped path variables the router matched with their
// unescaped values.
func unescapeVars(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vars := mux.Vars(r)
		if len(vars) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		out := make(map[string]string, len(vars))
		for k, v := range vars {
			u, err := url.PathUnescape(v)
			if err != nil {
				httputil.WriteError(w, httputil.InvalidParam("Path parameter %q is not valid percent-encoding", k))
				return
			}
			out[k] = u
		}
		next.ServeHTTP(w, mux.SetURLVars(r, out))
	})
}

// recordRoute tells the metrics middleware which route template matched, so request
// metrics are labelled by route and not by raw path.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(routeInfoKey{}).(*routeInfo); ok {
			if route := mux.CurrentRoute(r); route != nil {
				if tpl, err := route.GetPathTemplate(); err == nil {
					info.route = tpl
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Access-Control headers of the client-server API's "Web Browser Clients" section.
const (
	corsAllowMethods = "GET, POST, PUT, DELETE, OPTIONS"
	corsAllowHeaders = "X-Requested-With, Content-Type, Authorization"
)

// withCORS lets browser clients call /_matrix, /.well-known/matrix and /_synapse/admin from
// any origin and answers every OPTIONS preflight there with 200, whatever the route.
func withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hasPrefix(r.URL.Path, "/_matrix/") && !hasPrefix(r.URL.Path, "/.well-known/matrix/") &&
			!hasPrefix(r.URL.Path, "/_synapse/admin/") {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		if r.Method == http.MethodOptions {
			if info, ok := r.Context().Value(routeInfoKey{}).(*routeInfo); ok {
				info.route = "cors-preflight"
			}
			httputil.WriteJSON(w, http.StatusOK, struct{}{})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// FullPathRouter returns a router for a component that registers full paths
// ("/_matrix/client/v3/sync") while the process base's client router is mounted at
// /_matrix/client: every request the returned router matches is handed to it from parent,
// with 405 M_UNRECOGNIZED for a known path and the wrong method, and parent's answers for
// everything else (404 M_UNRECOGNIZED). Like the base's
// routers it matches the escaped path, so a %2F stays inside its path variable, and hands
// handlers the unescaped values.
func FullPathRouter(parent *mux.Router) *mux.Router {
	r := mux.NewRouter().SkipClean(true).UseEncodedPath()
	r.Use(unescapeVars)
	// r is only reached for a path one of its routes knows, so a request it does not match
	// has the wrong method: the spec's 405 M_UNRECOGNIZED, as on the base's routers.
	// (gorilla/mux loses the method mismatch across subrouters, so it is not relied on.)
	wrongMethod := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusMethodNotAllowed))
	})
	r.NotFoundHandler, r.MethodNotAllowedHandler = wrongMethod, wrongMethod
	parent.MatcherFunc(func(req *http.Request, _ *mux.RouteMatch) bool {
		for _, method := range []string{req.Method, http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			probe := req
			if method != req.Method {
				probe = req.Clone(req.Context())
				probe.Method = method
			}
			var m mux.RouteMatch
			if r.Match(probe, &m) && m.MatchErr == nil {
				return true
			}
		}
		return false
	}).Handler(r)
	return r
}
