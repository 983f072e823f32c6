package inthttp

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/setup"
)

// MaxRequestBytes bounds the body of an internal API request (an event is at most 64 KiB;
// some requests carry several, e.g. createRoom's initial_state).
const MaxRequestBytes = 4 << 20

// Empty is the request or response of a method that has no arguments or no result; it
// travels as {}.
type Empty struct{}

// Handle serves POST path on r (a router mounted at PathPrefix, such as setup's
// InternalAPIMux) with fn: the JSON body is decoded into a fresh *Req (bad JSON is
// M_NOT_JSON / M_BAD_JSON, a body over MaxRequestBytes M_TOO_LARGE), fn is called with the
// request's context, and its result is written as JSON with 200 — or its error as the
// spec's error JSON with the MatrixError's status, which Client.Call turns back into the
// same *httputil.MatrixError. Errors that are not MatrixErrors answer 500 M_UNKNOWN and are
// logged (their text never leaves the process).
func Handle[Req, Resp any](r *mux.Router, path string, fn func(ctx context.Context, req *Req) (*Resp, error)) {
	r.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		var req Req
		if me := httputil.ReadJSONObject(hr, MaxRequestBytes, &req); me != nil {
			httputil.WriteError(w, me)
			return
		}
		resp, err := fn(hr.Context(), &req)
		if err != nil {
			if me := httputil.AsMatrixError(err); me.Status >= 500 {
				setup.LoggerFrom(hr.Context()).WithError(err).WithField("internal_api", path).Error("internal API call failed")
			}
			httputil.WriteError(w, err)
			return
		}
		if resp == nil {
			httputil.WriteJSON(w, http.StatusOK, Empty{})
			return
		}
		httputil.WriteJSON(w, http.StatusOK, resp)
	})).Methods(http.MethodPost)
}

// HandleErr is Handle for a method whose only result is an error: it answers {}.
func HandleErr[Req any](r *mux.Router, path string, fn func(ctx context.Context, req *Req) error) {
	Handle(r, path, func(ctx context.Context, req *Req) (*Empty, error) {
		return nil, fn(ctx, req)
	})
}
