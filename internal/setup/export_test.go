package setup

import (
	"context"
	"net/http"
)

// PublicRoot is the public root router without the request-ID, log, metrics and CORS
// wrappers, so the routing benchmarks measure routing alone.
func (b *Base) PublicRoot() http.Handler { return matchEscaped(b.publicRoot) }

// ServeLabelled serves r as the public listener does without request IDs and logs (CORS,
// then the root router) and returns the route label the metrics would get.
func (b *Base) ServeLabelled(w http.ResponseWriter, r *http.Request) string {
	info := &routeInfo{route: "unmatched"}
	withCORS(matchEscaped(b.publicRoot)).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeInfoKey{}, info)))
	return info.route
}
