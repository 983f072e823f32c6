// Package routing is the syncapi's public HTTP surface (Tier 1): GET /sync and the room
// read endpoints /messages, /context, /members, /joined_members and /event. Handlers parse
// and check parameters, check the access token with the userapi, and hand over to the sync
// engine (syncapi/internal).
package routing

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/syncv3"
	"github.com/axon-matrix/axon/syncapi/internal"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Handlers serves the syncapi's public routes.
type Handlers struct {
	Syncer  *internal.Syncer
	UserAPI userapi.UserAPI
	// V3 serves POST /sync (sync v3, docs/sync-v3.md); nil leaves the route out.
	V3 *syncv3.Engine
	// filters keeps parsed /sync filters (filtercache.go); the zero value is ready.
	filters filterCache
}

// Register adds the routes under /_matrix/client/v3 and /_matrix/client/r0.
func (h *Handlers) Register(router *mux.Router) {
	for _, prefix := range []string{"/_matrix/client/v3", "/_matrix/client/r0"} {
		r := router.PathPrefix(prefix).Subrouter()
		r.HandleFunc("/sync", h.authed(h.sync)).Methods(http.MethodGet)
		if h.V3 != nil {
			r.HandleFunc("/sync", h.syncV3Authed).Methods(http.MethodPost)
		}
		r.HandleFunc("/rooms/{roomId}/messages", h.authed(h.messages)).Methods(http.MethodGet)
		r.HandleFunc("/rooms/{roomId}/context/{eventId}", h.authed(h.context)).Methods(http.MethodGet)
		r.HandleFunc("/rooms/{roomId}/members", h.authed(h.members)).Methods(http.MethodGet)
		r.HandleFunc("/rooms/{roomId}/joined_members", h.authed(h.joinedMembers)).Methods(http.MethodGet)
		r.HandleFunc("/rooms/{roomId}/event/{eventId}", h.authed(h.event)).Methods(http.MethodGet)
		r.HandleFunc("/keys/changes", h.authed(h.keyChanges)).Methods(http.MethodGet)
	}
}

// authed checks the access token (every Tier 1 → userapi) and passes the device on.
func (h *Handlers) authed(next func(w http.ResponseWriter, r *http.Request, dev *userapi.Device)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, me := httputil.AccessToken(r)
		if me != nil {
			httputil.WriteError(w, me)
			return
		}
		dev, err := h.UserAPI.QueryAccessToken(r.Context(), tok)
		if err != nil {
			httputil.WriteError(w, err)
			return
		}
		next(w, r, dev)
	}
}

// intParam parses an optional non-negative integer query parameter (q is the request's
// query, parsed once by the handler).
func intParam(q url.Values, name string, def int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, httputil.InvalidParam("%s must be a non-negative integer", name)
	}
	return n, nil
}

// boolParam parses an optional "true"/"false" query parameter.
func boolParam(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, httputil.InvalidParam("%s must be true or false", name)
}

// respond writes v, or the error as the spec's error JSON. A request the client gave up on
// gets no body.
func respond(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		if r.Context().Err() == context.Canceled {
			return
		}
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, v)
}
