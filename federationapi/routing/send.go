package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

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
	// lookup, when set, is the key lookup under keys: a transaction's PDUs are then
	// checked with each key looked up once (sendcheck.go).
	lookup event.KeyLookup
	edu    eduapi.EDUServerAPI
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
		start := time.Now()
		defer func() { sendSeconds.WithLabelValues("total").Observe(time.Since(start).Seconds()) }()
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

// process checks each PDU and inputs them room by room, in the order received (inputRoom).
func (h *sendHandler) process(ctx context.Context, origin string, pdus []json.RawMessage) (map[string]federation.PDUResult, error) {
	results := map[string]federation.PDUResult{}
	versions := map[string]string{}
	byRoom := map[string][]*event.Event{}
	acls := map[string]bool{}
	var rooms []string
	start := time.Now()
	checks := make([]pduCheck, 0, len(pdus))
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
		// v == "": a room we do not hold. Its events cannot even be given an ID (v3+);
		// the spec has them dropped.
		checks = append(checks, pduCheck{raw: raw, roomID: head.RoomID, version: v})
	}
	// Signatures (arrow 11) of every PDU at once, each key looked up once (sendcheck.go).
	h.checkAll(ctx, h.verifier(), checks)
	for _, c := range checks {
		rv, err := c.rv, c.err
		if c.version == "" || rv.e == nil {
			continue
		}
		if err != nil {
			results[rv.e.EventID()] = federation.PDUResult{Error: rv.err}
			continue
		}
		// The room's server ACL (acl.go): a denied origin's PDUs get an error each.
		if ok, err := h.aclAllowed(ctx, acls, c.roomID, origin); err != nil {
			return nil, err
		} else if !ok {
			results[rv.e.EventID()] = federation.PDUResult{Error: "Server " + origin + " is denied by the room's server ACL"}
			continue
		}
		if _, seen := byRoom[c.roomID]; !seen {
			rooms = append(rooms, c.roomID)
		}
		byRoom[c.roomID] = append(byRoom[c.roomID], rv.e)
	}
	checked := time.Now()
	sendSeconds.WithLabelValues("check").Observe(checked.Sub(start).Seconds())
	for _, room := range rooms {
		if err := h.inputRoom(ctx, origin, room, versions[room], byRoom[room], results); err != nil {
			return nil, err
		}
	}
	sendSeconds.WithLabelValues("input").Observe(time.Since(checked).Seconds())
	return results, nil
}

// inputRoom gives the roomserver one room's checked PDUs of a transaction in one call (one
// write transaction there, arrow 3), in the order received: a sender sends its events in
// the order it stored them, so parents come before children, and the roomserver checks
// each against the state the earlier ones left, as if they had come one by one (sorting by
// depth would gain nothing for such a sender and could change the verdicts of concurrent
// events). The PDUs whose result reports missing prev_events (with a fetcher) or missing
// auth events then take the slow path of input (get_missing_events, the auth chain, the
// state at a gap) one at a time, in the same order; after each, the PDUs still waiting are
// given to the roomserver again in one call, since what it fetched may be what they lacked.
func (h *sendHandler) inputRoom(ctx context.Context, origin, roomID, version string, evs []*event.Event, results map[string]federation.PDUResult) error {
	todo := evs
	for len(todo) > 0 {
		batch, err := h.inputBatch(ctx, origin, roomID, todo)
		if err != nil {
			return err
		}
		var slow []*event.Event
		var verdict *rsapi.FederationEventResult
		for i, e := range todo {
			res := batch[i]
			if len(res.MissingAuthEvents) == 0 && (len(res.MissingPrevEvents) == 0 || h.cfg.Fetcher == nil) {
				results[e.EventID()] = federation.PDUResult{Error: res.Error}
				continue
			}
			if len(slow) == 0 && i == len(todo)-1 {
				// The batch's verdict stands only when nothing was stored after it;
				// else the slow path inputs the PDU again first.
				verdict = &res
			}
			slow = append(slow, e)
		}
		if len(slow) == 0 {
			return nil
		}
		msg, err := h.input(ctx, origin, roomID, version, slow[0], verdict)
		if err != nil {
			return err
		}
		results[slow[0].EventID()] = federation.PDUResult{Error: msg}
		todo = slow[1:]
	}
	return nil
}

// inputBatch gives the roomserver one room's events, one result each in order; a refusal
// of the whole request (4xx) is every event's error.
func (h *sendHandler) inputBatch(ctx context.Context, origin, roomID string, evs []*event.Event) ([]rsapi.FederationEventResult, error) {
	req := &rsapi.InputFederationEventsRequest{Origin: origin, RoomID: roomID, Events: make([]rsapi.FederationEvent, len(evs))}
	for i, e := range evs {
		req.Events[i] = rsapi.FederationEvent{EventID: e.EventID(), JSON: e.JSON()}
	}
	resp, err := h.rs.InputFederationEvents(ctx, req)
	if err != nil {
		me := (*httputil.MatrixError)(nil)
		if !errors.As(err, &me) || me.Status >= 500 {
			return nil, err
		}
		out := make([]rsapi.FederationEventResult, len(evs))
		for i, e := range evs {
			out[i] = rsapi.FederationEventResult{EventID: e.EventID(), Error: me.Err}
		}
		return out, nil
	}
	if len(resp.Results) != len(evs) {
		return nil, fmt.Errorf("federationapi: the roomserver answered %d results for %d events", len(resp.Results), len(evs))
	}
	return resp.Results, nil
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
	return h.checkWith(ctx, h.keys, raw, version)
}

// checkWith is check with the signature check verify.
func (h *sendHandler) checkWith(ctx context.Context, verify func(context.Context, *event.Event) error, raw json.RawMessage, version string) (received, error) {
	e, err := event.NewEventFromUntrustedJSON(raw, matrix.RoomVersionID(version))
	if err != nil {
		return received{}, errCheck
	}
	if err := verify(ctx, e); err != nil {
		return received{e: e, err: "signature check failed: " + err.Error()}, errCheck
	}
	return received{e: e}, nil
}

// input gives one event to the roomserver; when its prev_events are missing it fetches
// them from the origin (get_missing_events), inputs them oldest first and tries again.
// first, when set, is the roomserver's verdict on the event already had (inputRoom).
func (h *sendHandler) input(ctx context.Context, origin, roomID, version string, e *event.Event, first *rsapi.FederationEventResult) (string, error) {
	var res rsapi.FederationEventResult
	var err error
	if first != nil {
		res = *first
	} else {
		res, err = h.inputOne(ctx, origin, roomID, e)
	}
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
