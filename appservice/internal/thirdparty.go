package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/internal/httputil"
)

// maxThirdPartyBody bounds one service's answer to a third-party lookup.
const maxThirdPartyBody = 1 << 20

// get sends GET path?query with the hs_token and returns the body of a 2xx answer.
func (b *Bridge) get(ctx context.Context, reg *api.Registration, path string, query url.Values) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	u := endpoint(reg, path)
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+reg.HSToken)
	resp, err := b.HC.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxThirdPartyBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{Status: resp.StatusCode, Body: string(body)}
	}
	return body, nil
}

// askAll runs ask for every service in regs at once and returns the answers in regs'
// order (nil for a service that failed, which is logged).
func askAll(ctx context.Context, regs []*api.Registration, what string, ask func(*api.Registration) ([]byte, error)) [][]byte {
	out := make([][]byte, len(regs))
	var wg sync.WaitGroup
	for i, reg := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := ask(reg)
			if err != nil {
				logrus.WithError(err).WithField("appservice", reg.ID).WithField("lookup", what).Warn("third-party lookup failed")
				return
			}
			out[i] = body
		}()
	}
	wg.Wait()
	return out
}

// declaring is the services with a URL that declare protocol ("" for any protocol).
func (a *API) declaring(protocol string) []*api.Registration {
	var out []*api.Registration
	for _, r := range a.Regs.All() {
		if r.HasURL() && len(r.Protocols) > 0 && (protocol == "" || slices.Contains(r.Protocols, protocol)) {
			out = append(out, r)
		}
	}
	return out
}

// ThirdPartyProtocols implements api.AppServiceAPI.
func (a *API) ThirdPartyProtocols(ctx context.Context, req *api.ThirdPartyProtocolsRequest) (*api.ThirdPartyProtocolsResponse, error) {
	var protocols []string
	if req.Protocol != "" {
		if len(a.declaring(req.Protocol)) == 0 {
			return nil, httputil.NotFound("The protocol %s is unknown", req.Protocol)
		}
		protocols = []string{req.Protocol}
	} else {
		for _, r := range a.declaring("") {
			for _, p := range r.Protocols {
				if !slices.Contains(protocols, p) {
					protocols = append(protocols, p)
				}
			}
		}
		sort.Strings(protocols)
	}
	resp := &api.ThirdPartyProtocolsResponse{Protocols: map[string]json.RawMessage{}}
	for _, p := range protocols {
		regs := a.declaring(p)
		answers := askAll(ctx, regs, "protocol "+p, func(r *api.Registration) ([]byte, error) {
			return a.Bridge.get(ctx, r, "/_matrix/app/v1/thirdparty/protocol/"+url.PathEscape(p), nil)
		})
		if merged := mergeProtocol(regs, answers); merged != nil {
			resp.Protocols[p] = merged
		}
	}
	if req.Protocol != "" && resp.Protocols[req.Protocol] == nil {
		return nil, httputil.NotFound("No application service answered for the protocol %s", req.Protocol)
	}
	return resp, nil
}

// mergeProtocol merges the services' metadata of one protocol: the first valid answer,
// its instances replaced by every answer's, each with instance_id "<service>|<network_id>"
// (the third_party_instance_id of /publicRooms). Nil when no answer was a JSON object.
func mergeProtocol(regs []*api.Registration, answers [][]byte) json.RawMessage {
	var base map[string]json.RawMessage
	instances := []map[string]any{}
	for i, body := range answers {
		var obj map[string]json.RawMessage
		if body == nil || json.Unmarshal(body, &obj) != nil || obj == nil {
			continue
		}
		if base == nil {
			base = obj
		}
		var list []map[string]any
		if json.Unmarshal(obj["instances"], &list) != nil {
			continue
		}
		for _, inst := range list {
			if inst == nil {
				continue
			}
			if nid, ok := inst["network_id"].(string); ok && nid != "" {
				inst["instance_id"] = regs[i].ID + "|" + nid
			}
			instances = append(instances, inst)
		}
	}
	if base == nil {
		return nil
	}
	js, _ := json.Marshal(instances)
	base["instances"] = js
	out, _ := json.Marshal(base)
	return out
}

// ThirdPartyQuery implements api.AppServiceAPI.
func (a *API) ThirdPartyQuery(ctx context.Context, req *api.ThirdPartyQueryRequest) (*api.ThirdPartyQueryResponse, error) {
	var idField string // the Matrix-side field every result must have
	switch req.Kind {
	case api.ThirdPartyLocation:
		idField = "alias"
	case api.ThirdPartyUser:
		idField = "userid"
	default:
		return nil, httputil.InvalidParam("Unknown third-party lookup %q", req.Kind)
	}
	path := "/_matrix/app/v1/thirdparty/" + req.Kind
	var regs []*api.Registration
	if req.Protocol != "" {
		regs = a.declaring(req.Protocol)
		if len(regs) == 0 {
			return nil, httputil.NotFound("The protocol %s is unknown", req.Protocol)
		}
		path += "/" + url.PathEscape(req.Protocol)
	} else {
		id := ""
		if v := req.Fields[idField]; len(v) > 0 {
			id = v[0]
		}
		if id == "" {
			return nil, httputil.MissingParam("Missing %s", idField)
		}
		for _, r := range a.declaring("") {
			if (idField == "alias" && r.InterestedInAlias(id)) || (idField == "userid" && r.OwnsUser(id)) {
				regs = append(regs, r)
			}
		}
	}
	query := url.Values{}
	for k, v := range req.Fields {
		if k != "access_token" {
			query[k] = v
		}
	}
	answers := askAll(ctx, regs, req.Kind, func(r *api.Registration) ([]byte, error) {
		return a.Bridge.get(ctx, r, path, query)
	})
	resp := &api.ThirdPartyQueryResponse{Results: []json.RawMessage{}}
	for i, body := range answers {
		var list []json.RawMessage
		if body == nil || json.Unmarshal(body, &list) != nil {
			continue
		}
		for _, item := range list {
			if err := validResult(item, idField, req.Protocol, regs[i]); err != nil {
				logrus.WithField("appservice", regs[i].ID).WithError(err).Warn("dropping an invalid third-party result")
				continue
			}
			resp.Results = append(resp.Results, item)
		}
	}
	return resp, nil
}

// validResult checks one result as the spec's Location / User: an object with the
// Matrix ID field (alias, userid), a protocol (the one asked for, or one the service
// declares) and a fields object.
func validResult(item json.RawMessage, idField, protocol string, reg *api.Registration) error {
	var r map[string]json.RawMessage
	if json.Unmarshal(item, &r) != nil || r == nil {
		return fmt.Errorf("not an object")
	}
	var id, proto string
	if json.Unmarshal(r[idField], &id) != nil || id == "" {
		return fmt.Errorf("no %s", idField)
	}
	if json.Unmarshal(r["protocol"], &proto) != nil || (protocol != "" && proto != protocol) || !slices.Contains(reg.Protocols, proto) {
		return fmt.Errorf("protocol %q not the one asked", proto)
	}
	var fields map[string]any
	if json.Unmarshal(r["fields"], &fields) != nil || fields == nil {
		return fmt.Errorf("no fields object")
	}
	return nil
}
