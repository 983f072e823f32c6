package setup

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
)

// newRootRouter makes a root router. It matches each request's escaped path (matchEscaped
// hands it over as URL.Path), so a %2F inside a path variable (room aliases, room v3 event
// IDs) stays inside that variable, and unescapeVars hands handlers the unescaped values
// through mux.Vars as usual. Paths are not cleaned (no redirects that would turn a PUT into
// a GET). Unknown paths get 404 M_UNRECOGNIZED, known paths with the wrong method 405
// M_UNRECOGNIZED (client-server API, "Common error codes").
//
// The router does not use gorilla/mux's UseEncodedPath: with it every route regexp tried
// recomputes URL.EscapedPath (a validation and an unescape of the raw path), which was most
// of the routing cost of a request that matches a route late in the list (a message send).
func newRootRouter() *mux.Router {
	r := mux.NewRouter().SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusMethodNotAllowed))
	})
	r.Use(unescapeVars, recordRoute)
	return r
}

// originalURLKey holds, in a request matchEscaped rewrote, the URL the client sent.
type originalURLKey struct{}

// matchEscaped computes the request's escaped path once and lets root match on it. Most
// paths (room IDs, user IDs, event types, transaction IDs) hold no percent-encoding: their
// escaped path is URL.Path itself and the request goes through untouched. Otherwise root
// gets a copy whose URL.Path is the escaped path, and unescapeVars gives the handler the
// client's URL back.
func matchEscaped(root http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ep := r.URL.EscapedPath(); ep != r.URL.Path {
			u := *r.URL
			u.Path, u.RawPath = ep, ""
			r = r.WithContext(context.WithValue(r.Context(), originalURLKey{}, r.URL))
			r.URL = &u
		}
		root.ServeHTTP(w, r)
	})
}

// unescapeVars replaces the escaped path variables the router matched with their
// unescaped values and gives the handler the URL the client sent (see matchEscaped). A
// path without a '%' has nothing to unescape, so the common request costs nothing here.
func unescapeVars(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.IndexByte(r.URL.Path, '%') < 0 {
			next.ServeHTTP(w, r)
			return
		}
		vars := mux.Vars(r)
		out := make(map[string]string, len(vars))
		for k, v := range vars {
			u, err := url.PathUnescape(v)
			if err != nil {
				httputil.WriteError(w, httputil.InvalidParam("Path parameter %q is not valid percent-encoding", k))
				return
			}
			out[k] = u
		}
		r = mux.SetURLVars(r, out) // a copy: its URL may be replaced
		if orig, ok := r.Context().Value(originalURLKey{}).(*url.URL); ok {
			r.URL = orig
		}
		next.ServeHTTP(w, r)
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
