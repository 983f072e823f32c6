package routing

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// keyHandlers serve /_matrix/key/v2/…: no authentication (other servers fetch keys before
// they can check anything), the answers are the serverkeyapi's (arrow 11).
type keyHandlers struct {
	keys    skapi.ServerKeyAPI
	maxBody int64
}

func writeRaw(w http.ResponseWriter, raw []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
}

// serverKeys serves GET /_matrix/key/v2/server: this server's signed keys.
func (k *keyHandlers) serverKeys(w http.ResponseWriter, r *http.Request) {
	raw, err := k.keys.ServerKeys(r.Context())
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	writeRaw(w, raw)
}

// queryOne serves GET /_matrix/key/v2/query/{serverName}?minimum_valid_until_ts=…: the
// notary's answer for all of one server's keys.
func (k *keyHandlers) queryOne(w http.ResponseWriter, r *http.Request) {
	server := mux.Vars(r)["serverName"]
	if err := matrix.ValidateServerName(server); err != nil {
		httputil.WriteError(w, httputil.InvalidParam("serverName %q: %v", server, err))
		return
	}
	var minTS int64
	if s := r.URL.Query().Get("minimum_valid_until_ts"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			httputil.WriteError(w, httputil.InvalidParam("minimum_valid_until_ts must be a timestamp in milliseconds"))
			return
		}
		minTS = v
	}
	// No key IDs: all of the server's keys, valid until minTS.
	k.query(w, r, &skapi.QueryKeysRequest{ServerKeys: map[string]map[string]skapi.KeyCriteria{server: {}}, MinimumValidUntilTS: minTS})
}

// queryMany serves POST /_matrix/key/v2/query.
func (k *keyHandlers) queryMany(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ServerKeys map[string]map[string]skapi.KeyCriteria `json:"server_keys"`
	}
	if me := httputil.ReadJSONObject(r, k.maxBody, &body); me != nil {
		httputil.WriteError(w, me)
		return
	}
	if body.ServerKeys == nil {
		httputil.WriteError(w, httputil.MissingParam("server_keys is required"))
		return
	}
	for s, ids := range body.ServerKeys {
		if ids == nil {
			body.ServerKeys[s] = map[string]skapi.KeyCriteria{}
		}
	}
	k.query(w, r, &skapi.QueryKeysRequest{ServerKeys: body.ServerKeys})
}

func (k *keyHandlers) query(w http.ResponseWriter, r *http.Request, req *skapi.QueryKeysRequest) {
	resp, err := k.keys.QueryKeys(r.Context(), req)
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	out, err := json.Marshal(resp)
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	writeRaw(w, out)
}
