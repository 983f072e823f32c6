package internal

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// This file is arrow 3 (federationapi → roomserver): events other servers send. Each event
// is checked as the server-server spec ("Checks performed on receipt of a PDU") says:
//
//  1. against its own auth_events (which must be known and not rejected): else rejected;
//  2. against the state before it — the state after its prev_events, resolved with
//     matrix/stateres where they differ (stateres.go): else rejected;
//  3. against the room's current state: else soft-failed (stored, but neither a forward
//     extremity nor shown to clients).
//
// Rejected events are stored as rejected and reach no client. Accepted events become
// forward extremities and go to topic 2 (and topic 4 for local users' memberships).

// inputOutcome is what inputReceived did with an event.
type inputOutcome struct {
	res api.FederationEventResult
	nid int64
	// before is the snapshot of the state before the stored event.
	before int64
}

// InputFederationEvents stores the events of one room another server sent (arrow 3), in the
// order given, up to maxGroupSends of them in one transaction under the room's lock (the
// group semantics of writeRoomLocked): each event is checked against the state the earlier
// ones left, and its verdict is the one it would get alone. A refusal decided before any
// write (a bad event, an unknown room) is that event's result only; an event that only
// reports missing prev or auth events writes nothing and keeps the others. If the group's
// transaction fails as a whole, its events are input again one transaction each, so a
// failure that only one event's transaction would have met stays that event's.
func (a *RoomserverInternalAPI) InputFederationEvents(ctx context.Context, req *api.InputFederationEventsRequest) (*api.InputFederationEventsResponse, error) {
	if _, err := a.knownRoom(ctx, a.db.Reader(), req.RoomID); err != nil {
		return nil, err
	}
	out := &api.InputFederationEventsResponse{Results: make([]api.FederationEventResult, len(req.Events))}
	for from := 0; from < len(req.Events); from += maxGroupSends {
		to := min(from+maxGroupSends, len(req.Events))
		if err := a.inputFederationGroup(ctx, req.RoomID, req.Events[from:to], out.Results[from:to]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// inputFederationGroup inputs evs in one transaction, their verdicts into results.
func (a *RoomserverInternalAPI) inputFederationGroup(ctx context.Context, roomID string, evs []api.FederationEvent, results []api.FederationEventResult) error {
	own := make([]*eventError, len(evs))
	fns := make([]writeFn, len(evs))
	for i := range evs {
		fns[i] = func(ctx context.Context, w *roomWriter) error {
			res, err := w.inputFederationEvent(ctx, evs[i])
			results[i] = res
			if err == nil {
				return nil
			}
			own[i] = &eventError{err}
			return own[i]
		}
	}
	unlock := a.locks.lock(roomID)
	errs := a.writeRoomLocked(ctx, "federation_input", roomID, fns)
	unlock()
	whole := false // the transaction failed, not (only) some of its events
	for i, err := range errs {
		if ee, ok := err.(*eventError); err != nil && (!ok || ee != own[i]) {
			whole = true
		}
	}
	if whole && len(evs) > 1 {
		for i := range evs {
			err := a.writeRoom(ctx, "federation_input", roomID, func(ctx context.Context, w *roomWriter) error {
				var err error
				results[i], err = w.inputFederationEvent(ctx, evs[i])
				return err
			})
			if err := federationResult(&results[i], evs[i], err); err != nil {
				return err
			}
		}
		return nil
	}
	for i, err := range errs {
		if ee, ok := err.(*eventError); ok {
			err = ee.err
		}
		if err := federationResult(&results[i], evs[i], err); err != nil {
			return err
		}
	}
	return nil
}

// eventError is the error of one event of a group, told apart from the group's own.
type eventError struct{ err error }

func (e *eventError) Error() string { return e.err.Error() }
func (e *eventError) Unwrap() error { return e.err }

// inputFederationEvent parses and inputs one received event in the writer's transaction.
func (w *roomWriter) inputFederationEvent(ctx context.Context, fe api.FederationEvent) (api.FederationEventResult, error) {
	e, err := w.parseReceived(fe)
	if err != nil {
		return api.FederationEventResult{}, err
	}
	o, err := w.inputReceivedGap(ctx, e, false, &fe)
	return o.res, err
}

// federationResult completes an event's result after its transaction: a Matrix error
// (a refusal) is the event's error; any other error is returned.
func federationResult(res *api.FederationEventResult, fe api.FederationEvent, err error) error {
	if err != nil {
		var me *httputil.MatrixError
		if !errors.As(err, &me) {
			return err
		}
		*res = api.FederationEventResult{EventID: fe.EventID, Error: me.Err}
	}
	if res.EventID == "" {
		res.EventID = fe.EventID
	}
	return nil
}

// parseReceived parses a received event of the writer's room; its ID must be the one the
// federationapi computed (when given).
func (w *roomWriter) parseReceived(fe api.FederationEvent) (matrix.PDU, error) {
	e, err := w.a.events.ParseReceived(w.version, fe.JSON)
	if err != nil {
		return nil, httputil.BadJSON("Bad event: %v", err)
	}
	if fe.EventID != "" && e.EventID() != fe.EventID {
		return nil, httputil.BadJSON("Event ID %s does not match the event (%s)", fe.EventID, e.EventID())
	}
	if e.RoomID() != w.room.RoomID {
		return nil, httputil.BadJSON("Event %s is in room %s, not %s", e.EventID(), e.RoomID(), w.room.RoomID)
	}
	return e, nil
}

// inputReceived checks and stores one received event (see the top of this file). It
// returns an error only when the transaction must roll back; refusals are in the result.
// first is set for the join of a room joined through another server (remotejoin.go): its
// prev_events are not held, and the state before it is the room's current state.
func (w *roomWriter) inputReceived(ctx context.Context, e matrix.PDU, first bool) (inputOutcome, error) {
	return w.inputReceivedGap(ctx, e, first, nil)
}

// inputReceivedGap is inputReceived with, in gap, the reported states after prev_events
// this server lacks (federation_gap.go); nil: missing prev_events are reported.
func (w *roomWriter) inputReceivedGap(ctx context.Context, e matrix.PDU, first bool, gap *api.FederationEvent) (inputOutcome, error) {
	o := inputOutcome{res: api.FederationEventResult{EventID: e.EventID()}}
	if old, err := w.s.EventByID(ctx, e.EventID()); err != nil {
		return o, err
	} else if old != nil && !old.IsOutlier {
		// Already stored: the same verdict again.
		o.res.Rejected, o.nid, o.before = old.IsRejected, old.NID, old.StateBefore
		if old.IsRejected {
			o.res.Error = "event was rejected"
		}
		return o, nil
	} else if old != nil && old.IsRejected {
		// An outlier its own auth events refused: that verdict holds.
		o.res.Rejected, o.res.Error, o.nid = true, "event was rejected", old.NID
		return o, nil
	} else if old != nil {
		// An outlier arriving live: checked below like any received event, then its row
		// becomes the verdict — unless it lies before the timeline this server follows
		// (federation_promote.go).
		if before, err := w.beforeTimeline(ctx, e); err != nil || before {
			if before {
				o.res.Error = "event is known as an outlier from before this server's timeline"
			}
			return o, err
		}
		defer w.promote(old)()
		// The two copies differ at most in content stripped for a content hash that did
		// not match: the longer is the whole event, and it is what is stored and sent on
		// (storage.PromoteOutlier keeps the longer JSON too).
		if len(old.JSON) > len(e.JSON()) {
			if whole, err := w.parsedRow(old); err == nil {
				e = whole
			}
		}
	}
	prevRows, err := w.s.EventsByID(ctx, e.PrevEventIDs())
	if err != nil {
		return o, err
	}
	for _, id := range e.PrevEventIDs() {
		if r := prevRows[id]; !first && (r == nil || r.IsOutlier) {
			o.res.MissingPrevEvents = append(o.res.MissingPrevEvents, id)
		}
	}
	var gapSnaps []int64
	if len(o.res.MissingPrevEvents) > 0 && gap != nil && len(gap.PrevStates) > 0 {
		snaps, refusal, err := w.gapSnapshots(ctx, gap, o.res.MissingPrevEvents)
		if err != nil {
			return o, err
		}
		if refusal == "" {
			gapSnaps, o.res.MissingPrevEvents = snaps, nil
			for _, id := range e.PrevEventIDs() {
				if r := prevRows[id]; r == nil || r.IsOutlier {
					delete(prevRows, id)
				}
			}
		} else {
			o.res.Error = "the state at a gap was refused: " + refusal
		}
	}
	if len(o.res.MissingPrevEvents) > 0 {
		if o.res.Error != "" {
			o.res.Error += "; "
		}
		o.res.Error += fmt.Sprintf("missing prev_events %v", o.res.MissingPrevEvents)
		depths, err := w.extremityDepths(ctx)
		if err != nil {
			return o, err
		}
		for id := range depths {
			o.res.ForwardExtremities = append(o.res.ForwardExtremities, id)
		}
		sort.Strings(o.res.ForwardExtremities)
		return o, nil
	}
	createTuple := matrix.StateKeyTuple{EventType: "m.room.create"}
	create, err := w.stateEvent(ctx, createTuple.EventType, "")
	if err != nil {
		return o, err
	}

	// 1. Its own auth events (those it lacked, when sent along, stored first:
	// federation_authchain.go).
	if gap != nil && len(gap.PrevStates) == 0 && len(gap.Outliers) > 0 {
		if err := w.storeAuthChain(ctx, e, gap.Outliers, create); err != nil {
			return o, err
		}
	}
	authRows, err := w.s.EventsByID(ctx, e.AuthEventIDs())
	if err != nil {
		return o, err
	}
	var authPDUs []matrix.PDU
	for _, id := range e.AuthEventIDs() {
		r := authRows[id]
		if r == nil {
			o.res.Error = fmt.Sprintf("unknown auth event %s", id)
			for _, aid := range e.AuthEventIDs() {
				if authRows[aid] == nil {
					o.res.MissingAuthEvents = append(o.res.MissingAuthEvents, aid)
				}
			}
			return o, nil
		}
		if r.IsRejected {
			return w.storeRejected(ctx, e, 0, fmt.Sprintf("auth event %s was rejected", id))
		}
		p, err := w.parsedRow(r)
		if err != nil {
			return o, err
		}
		authPDUs = append(authPDUs, p)
	}
	provider, err := auth.CheckAuthEvents(e, authPDUs, create)
	if err == nil {
		err = auth.Allowed(e, provider)
	}
	if err != nil {
		return w.storeRejected(ctx, e, 0, err.Error())
	}

	// 2. The state before it.
	fast := first || (gapSnaps == nil && w.onExtremities(ctx, e))
	before := w.room.SnapshotID
	var from storage.StateMap
	if !fast {
		if before, err = w.stateBefore(ctx, prevRows, gapSnaps...); err != nil {
			return o, err
		}
		if from, err = w.s.LoadSnapshot(ctx, before); err != nil {
			return o, err
		}
	}
	p := &proto{RoomID: e.RoomID(), Sender: e.Sender(), Type: e.Type(), StateKey: e.StateKey(), Content: e.Content()}
	tuples := append(w.a.events.AuthEventTuples(w.version, p), createTuple, hvTuple)
	state, _, err := w.stateEvents(ctx, from, tuples)
	if err != nil {
		return o, err
	}
	if err := allowedBy(e, state); err != nil {
		return w.storeRejected(ctx, e, before, err.Error())
	}
	hv := historyVisibilityOf(state[hvTuple])

	// 3. The current state (the same check when the state before is the current state).
	if !fast {
		var currentFrom storage.StateMap
		if gapSnaps != nil {
			// Across a gap the current state alone lacks what happened in it: as Synapse
			// does, the state before the event is resolved with the states after the
			// forward extremities (federation_gap.go).
			if currentFrom, err = w.currentWithGap(ctx, before); err != nil {
				return o, err
			}
		}
		current, _, err := w.stateEvents(ctx, currentFrom, tuples)
		if err != nil {
			return o, err
		}
		if err := allowedBy(e, current); err != nil {
			return w.storeSoftFailed(ctx, e, before, err.Error())
		}
	}
	o.before = before
	if fast {
		err = w.store(ctx, e, hv, sendOpts{})
	} else {
		err = w.storeWithPrevState(ctx, e, before, hv, sendOpts{})
	}
	if err != nil {
		return o, err
	}
	if r, err := w.s.EventByID(ctx, e.EventID()); err != nil {
		return o, err
	} else if r != nil {
		o.nid = r.NID
	}
	if e.Type() == "m.room.redaction" {
		return o, w.applyReceivedRedaction(ctx, e, state)
	}
	return o, nil
}

// applyReceivedRedaction applies an accepted redaction whose target this server holds in
// the room, when the spec lets it: the target's sender is on the redaction sender's server,
// or the sender has the redact power level. Otherwise the redaction is kept as an event
// only. (A redaction that arrives before its target is not applied later yet.)
func (w *roomWriter) applyReceivedRedaction(ctx context.Context, e matrix.PDU, state map[matrix.StateKeyTuple]matrix.PDU) error {
	target, err := w.s.EventByID(ctx, e.Redacts())
	if err != nil || target == nil || target.RoomID != w.room.RoomID || target.IsRejected || target.IsRedacted {
		return err
	}
	sameServer := false
	if a, ok := matrix.ServerNameOf(e.Sender()); ok {
		b, _ := matrix.ServerNameOf(target.Sender)
		sameServer = a == b
	}
	if !sameServer {
		pl, err := auth.NewPowerLevels(state[matrix.StateKeyTuple{EventType: "m.room.create"}], state[matrix.StateKeyTuple{EventType: "m.room.power_levels"}])
		if err != nil || pl.UserPowerLevel(e.Sender()) < pl.Redact {
			return nil
		}
	}
	return w.applyRedaction(ctx, e.EventID(), target)
}

// allowedBy applies the auth rules to e with the state events given as its auth events.
func allowedBy(e matrix.PDU, state map[matrix.StateKeyTuple]matrix.PDU) error {
	pdus := make([]matrix.PDU, 0, len(state))
	for t, s := range state {
		if t != hvTuple {
			pdus = append(pdus, s)
		}
	}
	provider, err := auth.NewAuthEvents(pdus)
	if err != nil {
		return err
	}
	return auth.Allowed(e, provider)
}

// onExtremities says whether e's prev_events are exactly the room's forward extremities:
// then the state before it is the current state, and it is stored like a local event.
func (w *roomWriter) onExtremities(ctx context.Context, e matrix.PDU) bool {
	depths, err := w.extremityDepths(ctx)
	if err != nil {
		return false
	}
	prev := dedupeIDs(e.PrevEventIDs())
	if len(prev) != len(depths) {
		return false
	}
	for _, id := range prev {
		if _, ok := depths[id]; !ok {
			return false
		}
	}
	return true
}

func dedupeIDs(ids []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// parsedRow returns the parsed form of a stored event.
func (w *roomWriter) parsedRow(r *storage.EventRow) (matrix.PDU, error) {
	if e := w.parsed[r.NID]; e != nil {
		return e, nil
	}
	e, err := w.a.events.Parse(w.version, r.EventID, r.JSON)
	if err != nil {
		return nil, err
	}
	w.parsed[r.NID] = e
	return e, nil
}

// storeRejected stores an event the auth rules rejected: kept (so it is not fetched
// again and events citing it are rejected too), but not part of any state, not a forward
// extremity and not sent to clients.
func (w *roomWriter) storeRejected(ctx context.Context, e matrix.PDU, before int64, reason string) (inputOutcome, error) {
	authRefusals.Inc()
	o := inputOutcome{res: api.FederationEventResult{EventID: e.EventID(), Rejected: true, Error: "rejected: " + reason}, before: before}
	row := &storage.EventRow{EventID: e.EventID(), RoomID: w.room.RoomID, Type: e.Type(), StateKey: e.StateKey(),
		Sender: e.Sender(), Depth: e.Depth(), OriginServerTS: e.OriginServerTS(), JSON: e.JSON(), IsRejected: true,
		StateBefore: before, StateAfter: before, PrevEventIDs: e.PrevEventIDs(), AuthEventIDs: e.AuthEventIDs()}
	nid, err := w.insertEvent(ctx, row)
	o.nid = nid
	return o, err
}

// storeSoftFailed stores an event that passed the auth rules against the state before it
// but not against the current state: it keeps its state (later events may cite it) but is
// not a forward extremity and is not sent to clients.
func (w *roomWriter) storeSoftFailed(ctx context.Context, e matrix.PDU, before int64, reason string) (inputOutcome, error) {
	o := inputOutcome{res: api.FederationEventResult{EventID: e.EventID(), SoftFailed: true, Error: "soft-failed: " + reason}, before: before}
	row := &storage.EventRow{EventID: e.EventID(), RoomID: w.room.RoomID, Type: e.Type(), StateKey: e.StateKey(),
		Sender: e.Sender(), Depth: e.Depth(), OriginServerTS: e.OriginServerTS(), JSON: e.JSON(),
		StateBefore: before, StateAfter: before, PrevEventIDs: e.PrevEventIDs(), AuthEventIDs: e.AuthEventIDs()}
	nid, err := w.insertEvent(ctx, row)
	if err != nil {
		return o, err
	}
	o.nid = nid
	if tuple, ok := matrix.Tuple(e); ok {
		snap, err := w.s.NewSnapshot(ctx, w.room.RoomID, before, storage.StateMap{tuple: nid})
		if err != nil {
			return o, err
		}
		return o, w.s.SetEventStateAfter(ctx, nid, snap)
	}
	return o, nil
}
