package routing

import (
	"net/http"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/syncapi/types"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// keyChanges serves GET /keys/changes?from=&to= (spec: client-server keys.yaml): the
// users whose device lists changed between two sync tokens, and those who no longer share
// a room with the requester. The spec puts it in the client API; the syncapi serves it
// because it owns the positions and the memberships (as Synapse serves it from its sync
// workers), so client-api-proxy routes it to the sync instances (syncapi/api).
func (h *Handlers) keyChanges(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	q := r.URL.Query()
	var toks [2]types.StreamToken
	for i, name := range []string{"from", "to"} {
		v := q.Get(name)
		if v == "" {
			httputil.WriteError(w, httputil.MissingParam("%s is required", name))
			return
		}
		tok, err := types.ParseStreamToken(v)
		if err != nil {
			httputil.WriteError(w, httputil.InvalidParam("Invalid %s token: %v", name, err))
			return
		}
		toks[i] = tok
	}
	lists, err := h.Syncer.KeyChanges(r.Context(), dev.UserID, toks[0], toks[1])
	respond(w, r, lists, err)
}
