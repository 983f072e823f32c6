package routing

import (
	"net/http"

	"github.com/gorilla/mux"

	asapi "github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Third-party lookups (the spec's "Third-party networks"): the clientapi hands them to
// the appservice component (arrow 10), which asks the application services declaring
// the protocol (GET /_matrix/app/v1/thirdparty/…) and merges their answers.

// unknownProtocol is the spec's 404 for a protocol no service declares.
func unknownProtocol(p string) error { return httputil.NotFound("The protocol %s is unknown", p) }

// thirdPartyProtocols serves GET /thirdparty/protocols: every protocol some service
// declares, with its merged metadata ({} without services).
func (rt *Routes) thirdPartyProtocols(r *http.Request, _ *userapi.Device) (any, error) {
	if rt.asAPI == nil {
		return map[string]any{}, nil
	}
	resp, err := rt.asAPI.ThirdPartyProtocols(r.Context(), &asapi.ThirdPartyProtocolsRequest{})
	if err != nil {
		return nil, err
	}
	return resp.Protocols, nil
}

// thirdPartyProtocol serves GET /thirdparty/protocol/{protocol} (404 M_NOT_FOUND for a
// protocol no service declares).
func (rt *Routes) thirdPartyProtocol(r *http.Request, _ *userapi.Device) (any, error) {
	p := mux.Vars(r)["protocol"]
	if rt.asAPI == nil {
		return nil, unknownProtocol(p)
	}
	resp, err := rt.asAPI.ThirdPartyProtocols(r.Context(), &asapi.ThirdPartyProtocolsRequest{Protocol: p})
	if err != nil {
		return nil, err
	}
	return resp.Protocols[p], nil
}

// thirdPartyQuery serves GET /thirdparty/location|user[/{protocol}]: the query
// parameters go to the services as they are; without a protocol it is the reverse
// lookup of ?alias= or ?userid=.
func (rt *Routes) thirdPartyQuery(kind string) handlerFunc {
	return func(r *http.Request, _ *userapi.Device) (any, error) {
		p := mux.Vars(r)["protocol"]
		if rt.asAPI == nil {
			if p != "" {
				return nil, unknownProtocol(p)
			}
			return []any{}, nil
		}
		fields := map[string][]string{}
		for k, v := range r.URL.Query() {
			if k != "access_token" {
				fields[k] = v
			}
		}
		resp, err := rt.asAPI.ThirdPartyQuery(r.Context(), &asapi.ThirdPartyQueryRequest{Kind: kind, Protocol: p, Fields: fields})
		if err != nil {
			return nil, err
		}
		return resp.Results, nil
	}
}
