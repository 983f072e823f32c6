package internal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// built is an event that passed the auth rules against the state before it.
type built struct {
	e        matrix.PDU
	provider *auth.AuthEvents
	// before is the snapshot of the state before e; forked says that e's prev_events are not
	// the room's forward extremities (t.Prev was given), so e forks the DAG.
	before int64
	forked bool
	// historyVisibility is the history visibility in the state before e.
	historyVisibility string
	// template is the unsigned make_join template (buildAs with a remote server).
	template []byte
}

// build turns a template into a signed event that passes the auth rules against the state
// before it, without storing it: the room's current state when its prev_events are the
// forward extremities (every local event), else the resolved state after t.Prev. Errors
// meant for the client are *httputil.MatrixError.
func (w *roomWriter) build(ctx context.Context, t eventTemplate, sender string) (*built, error) {
	return w.buildAs(ctx, t, sender, "")
}

// buildAs is build; with remote set (a make_join for another server's user) the event is
// built as that server's (eventLib.Template) and b.template holds the unsigned template.
func (w *roomWriter) buildAs(ctx context.Context, t eventTemplate, sender, remote string) (*built, error) {
	if c := bytes.TrimSpace(t.Content); len(c) == 0 || c[0] != '{' || !json.Valid(c) {
		return nil, httputil.BadJSON("Event content must be a JSON object")
	}
	prev, forked := t.Prev, t.Prev != nil
	var depth int64
	var prevRows map[string]*storage.EventRow
	var err error
	if forked || w.version.EventIDFormat == matrix.EventIDFormatServer {
		// The forked path needs the prev events' states, v1–v2 their reference hashes.
		if !forked {
			if prev, err = w.s.ForwardExtremities(ctx, w.room.RoomID); err != nil {
				return nil, err
			}
		}
		if prevRows, err = w.s.EventsByID(ctx, prev); err != nil {
			return nil, err
		}
		if len(prevRows) != len(prev) {
			return nil, fmt.Errorf("roomserver: unknown prev_events %v", prev)
		}
		for _, r := range prevRows {
			depth = max(depth, r.Depth)
		}
	} else {
		depths, err := w.extremityDepths(ctx)
		if err != nil {
			return nil, err
		}
		for id, d := range depths {
			prev = append(prev, id)
			depth = max(depth, d)
		}
		sort.Strings(prev)
	}
	if len(prev) == 0 {
		return nil, fmt.Errorf("roomserver: room %s has no forward extremities", w.room.RoomID)
	}
	b := &built{before: w.room.SnapshotID, forked: forked}
	var from storage.StateMap
	if forked {
		if b.before, err = w.stateBefore(ctx, prevRows); err != nil {
			return nil, err
		}
		if from, err = w.s.LoadSnapshot(ctx, b.before); err != nil {
			return nil, err
		}
	}
	p := &proto{RoomID: w.room.RoomID, Sender: sender, Type: t.Type, StateKey: t.StateKey, Content: t.Content,
		Redacts: t.Redacts, PrevEvents: prev, Depth: depth + 1, OriginServerTS: w.a.now().UnixMilli()}
	if t.TS > 0 {
		p.OriginServerTS = t.TS // an application service's ?ts= (timestamp massaging)
	}

	// Auth events: the current state the auth events selection names (matrix/event), plus
	// the create event, which v12 does not list but the auth rules still need.
	createTuple := matrix.StateKeyTuple{EventType: "m.room.create"}
	tuples := w.a.events.AuthEventTuples(w.version, p)
	state, _, err := w.stateEvents(ctx, from, append(tuples, createTuple, hvTuple))
	if err != nil {
		return nil, err
	}
	b.historyVisibility = historyVisibilityOf(state[hvTuple])
	create := state[createTuple]
	if create == nil {
		return nil, fmt.Errorf("roomserver: room %s has no create event in its state", w.room.RoomID)
	}
	var authPDUs []matrix.PDU
	for _, tuple := range tuples {
		if e := state[tuple]; e != nil {
			authPDUs = append(authPDUs, e)
			p.AuthEvents = append(p.AuthEvents, e.EventID())
		}
	}
	if w.version.EventIDFormat == matrix.EventIDFormatServer {
		// v1–v2 list each reference with its reference hash.
		if p.ReferenceHashes, err = w.referenceHashes(prevRows, authPDUs); err != nil {
			return nil, err
		}
	}
	if remote != "" {
		if b.e, b.template, err = w.a.events.Template(w.version, p, remote); err != nil {
			return nil, err
		}
	} else if b.e, err = w.a.events.Build(w.version, p); err != nil {
		return nil, err
	}
	if len(b.e.JSON()) > maxEventSize {
		return nil, httputil.TooLarge("Event is %d bytes, more than the limit of %d", len(b.e.JSON()), maxEventSize)
	}
	if b.provider, err = auth.CheckAuthEvents(b.e, authPDUs, create); err != nil {
		return nil, fmt.Errorf("roomserver: own auth events rejected: %w", err)
	}
	if err := auth.Allowed(b.e, b.provider); err != nil {
		return nil, forbidden(err)
	}
	return b, nil
}

// referenceHashes computes the reference hashes of prev and auth events (v1–v2).
func (w *roomWriter) referenceHashes(prevRows map[string]*storage.EventRow, authPDUs []matrix.PDU) (map[string]string, error) {
	out := map[string]string{}
	events := append([]matrix.PDU(nil), authPDUs...)
	for _, r := range prevRows {
		e := w.parsed[r.NID]
		if e == nil {
			var err error
			if e, err = w.a.events.Parse(w.version, r.EventID, r.JSON); err != nil {
				return nil, err
			}
		}
		events = append(events, e)
	}
	for _, e := range events {
		h, err := w.a.events.ReferenceHash(e)
		if err != nil {
			return nil, err
		}
		out[e.EventID()] = h
	}
	return out, nil
}

// forbidden maps an auth rule failure to M_FORBIDDEN, saying which rule failed.
func forbidden(err error) error {
	var na *auth.NotAllowed
	if errors.As(err, &na) {
		authRefusals.Inc()
		return httputil.Forbidden("%s", na.Reason)
	}
	return err
}

var hvTuple = matrix.StateKeyTuple{EventType: "m.room.history_visibility"}

// historyVisibilityOf reads an m.room.history_visibility event; "shared" if there is none.
func historyVisibilityOf(e matrix.PDU) string {
	if e == nil {
		return "shared"
	}
	var c struct {
		HV string `json:"history_visibility"`
	}
	if json.Unmarshal(e.Content(), &c) != nil || c.HV == "" {
		return "shared"
	}
	return c.HV
}
