package routing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// maxMissingEvents bounds one get_missing_events request for a received event's gap.
const maxMissingEvents = 20

// sendHandler serves PUT /_matrix/federation/v1/send/{txnId}: the PDUs go to the
// roomserver (arrow 3) after their signatures are checked (arrow 11); the EDUs go to the
// eduserver (arrow 5, edus.go).
type sendHandler struct {
	cfg  Config
	rs   rsapi.RoomserverAPI
	txns *txnCache
	keys func(ctx context.Context, e *event.Event) error
	edu  eduapi.EDUServerAPI
}

type txnBody struct {
	Origin         string            `json:"origin"`
	OriginServerTS int64             `json:"origin_server_ts"`
	PDUs           []json.RawMessage `json:"pdus"`
	EDUs           []json.RawMessage `json:"edus"`
}

func (h *sendHandler) serve(w http.ResponseWriter, r *http.Request) {
	origin := Origin(r.Context())
	var txn txnBody
	if me := httputil.ReadJSONObject(r, h.cfg.MaxBodyBytes, &txn); me != nil {
		httputil.WriteError(w, me)
		return
	}
	if txn.PDUs == nil {
		httputil.WriteError(w, httputil.BadJSON(`"pdus" is required`))
		return
	}
	if len(txn.PDUs) > federation.MaxTransactionPDUs || len(txn.EDUs) > federation.MaxTransactionEDUs {
		httputil.WriteError(w, httputil.BadJSON("A transaction holds at most %d PDUs and %d EDUs", federation.MaxTransactionPDUs, federation.MaxTransactionEDUs))
		return
	}
	key := origin + "\x00" + mux.Vars(r)["txnId"]
	// The transaction is processed to the end even if the sender goes away: its retry
	// then gets the stored answer.
	ctx := context.WithoutCancel(r.Context())
	body := h.txns.do(key, func() (any, bool) {
		res, err := h.process(ctx, origin, txn.PDUs)
		if err != nil {
			return err, false
		}
		if err := h.inputEDUs(ctx, origin, txn.EDUs); err != nil { // edus.go
			return err, false
		}
		return federation.SendTransactionResponse{PDUs: res}, true
	})
	if err, ok := body.(error); ok {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, body)
}

// received is one PDU after the checks of the federationapi.
type received struct {
	e   *event.Event
	err string
}

// process checks each PDU and inputs them room by room, in the order received.
func (h *sendHandler) process(ctx context.Context, origin string, pdus []json.RawMessage) (map[string]federation.PDUResult, error) {
	results := map[string]federation.PDUResult{}
	versions := map[string]string{}
	byRoom := map[string][]*event.Event{}
	acls := map[string]bool{}
	var rooms []string
	for _, raw := range pdus {
		var head struct {
			RoomID string `json:"room_id"`
		}
		if json.Unmarshal(raw, &head) != nil || head.RoomID == "" {
			continue // no room: no event ID to answer for
		}
		v, ok := versions[head.RoomID]
		if !ok {
			var err error
			v, err = h.rs.QueryRoomVersion(ctx, head.RoomID)
			if err != nil && !isNotFound(err) {
				return nil, err
			}
			versions[head.RoomID] = v
		}
		if v == "" {
			// A room we do not hold: its events cannot even be given an ID (v3+); the
			// spec has them dropped.
			continue
		}
		rv, err := h.check(ctx, raw, v)
		if rv.e == nil {
			continue
		}
		if err != nil {
			results[rv.e.EventID()] = federation.PDUResult{Error: rv.err}
			continue
		}
		// The room's server ACL (acl.go): a denied origin's PDUs get an error each.
		if ok, err := h.aclAllowed(ctx, acls, head.RoomID, origin); err != nil {
			return nil, err
		} else if !ok {
			results[rv.e.EventID()] = federation.PDUResult{Error: "Server " + origin + " is denied by the room's server ACL"}
			continue
		}
		if _, seen := byRoom[head.RoomID]; !seen {
			rooms = append(rooms, head.RoomID)
		}
		byRoom[head.RoomID] = append(byRoom[head.RoomID], rv.e)
	}
	for _, room := range rooms {
		for _, e := range byRoom[room] {
			res, err := h.input(ctx, origin, room, versions[room], e)
			if err != nil {
				return nil, err
			}
			results[e.EventID()] = federation.PDUResult{Error: res}
		}
	}
	return results, nil
}

// aclAllowed is serverAllowed (acl.go) remembered per room for one transaction.
func (h *sendHandler) aclAllowed(ctx context.Context, acls map[string]bool, roomID, origin string) (bool, error) {
	if ok, seen := acls[roomID]; seen {
		return ok, nil
	}
	ok, err := serverAllowed(ctx, h.rs, roomID, origin)
	if err != nil {
		return false, err
	}
	acls[roomID] = ok
	return ok, nil
}

var errCheck = errors.New("check failed")

// check parses a PDU for its room version (content hash: the redacted form on a mismatch)
// and verifies its signatures (arrow 11).
func (h *sendHandler) check(ctx context.Context, raw json.RawMessage, version string) (received, error) {
	e, err := event.NewEventFromUntrustedJSON(raw, matrix.RoomVersionID(version))
	if err != nil {
		return received{}, errCheck
	}
	if err := h.keys(ctx, e); err != nil {
		return received{e: e, err: "signature check failed: " + err.Error()}, errCheck
	}
	return received{e: e}, nil
}

// input gives one event to the roomserver; when its prev_events are missing it fetches
// them from the origin (get_missing_events), inputs them oldest first and tries again.
func (h *sendHandler) input(ctx context.Context, origin, roomID, version string, e *event.Event) (string, error) {
	res, err := h.inputOne(ctx, origin, roomID, e)
	if err == nil && len(res.MissingAuthEvents) > 0 {
		// Unknown auth events, no gap: its auth chain from the origin (authchain.go).
		res, err = h.withAuthChain(ctx, origin, roomID, version, e, res)
	}
	if err != nil || len(res.MissingPrevEvents) == 0 || h.cfg.Fetcher == nil {
		return res.Error, err
	}
	missing, err := h.cfg.Fetcher.GetMissingEvents(ctx, origin, roomID, federation.MissingEventsRequest{
		EarliestEvents: res.ForwardExtremities, LatestEvents: []string{e.EventID()}, Limit: maxMissingEvents})
	if err != nil {
		logrus.WithError(err).WithField("origin", origin).WithField("event_id", e.EventID()).Warn("get_missing_events failed")
		return res.Error + " (get_missing_events failed)", nil
	}
	var fetched []*event.Event
	for _, raw := range missing.Events {
		rv, err := h.check(ctx, raw, version)
		if err != nil || rv.e.RoomID() != roomID {
			continue
		}
		fetched = append(fetched, rv.e)
	}
	sort.SliceStable(fetched, func(i, j int) bool { return fetched[i].Depth() < fetched[j].Depth() })
	for _, f := range fetched {
		if _, err := h.inputOne(ctx, origin, roomID, f); err != nil {
			return "", err
		}
	}
	res, err = h.inputOne(ctx, origin, roomID, e)
	if err != nil {
		return "", err
	}
	if len(res.MissingPrevEvents) > 0 {
		// A gap remains: the states after the missing prev events from the origin (gap.go).
		sf, ok := h.cfg.Fetcher.(StateFetcher)
		if !ok {
			return res.Error + " (a gap remains after get_missing_events)", nil
		}
		fe, ok := h.stateAtGap(ctx, sf, origin, roomID, version, e, res.MissingPrevEvents)
		if !ok {
			return res.Error + " (a gap remains after get_missing_events; its state could not be fetched)", nil
		}
		if res, err = h.inputFE(ctx, origin, roomID, fe); err != nil {
			return "", err
		}
	}
	return res.Error, nil
}

func (h *sendHandler) inputOne(ctx context.Context, origin, roomID string, e *event.Event) (rsapi.FederationEventResult, error) {
	return h.inputFE(ctx, origin, roomID, rsapi.FederationEvent{EventID: e.EventID(), JSON: e.JSON()})
}

// inputFE gives one event to the roomserver (with, at a gap, the states after its
// missing prev events).
func (h *sendHandler) inputFE(ctx context.Context, origin, roomID string, fe rsapi.FederationEvent) (rsapi.FederationEventResult, error) {
	resp, err := h.rs.InputFederationEvents(ctx, &rsapi.InputFederationEventsRequest{Origin: origin, RoomID: roomID,
		Events: []rsapi.FederationEvent{fe}})
	if err != nil {
		if me := (*httputil.MatrixError)(nil); errors.As(err, &me) && me.Status < 500 {
			return rsapi.FederationEventResult{EventID: fe.EventID, Error: me.Err}, nil
		}
		return rsapi.FederationEventResult{}, err
	}
	if len(resp.Results) != 1 {
		return rsapi.FederationEventResult{}, errors.New("federationapi: the roomserver answered no result")
	}
	return resp.Results[0], nil
}

func isNotFound(err error) bool {
	var me *httputil.MatrixError
	return errors.As(err, &me) && me.ErrCode == "M_NOT_FOUND"
}
