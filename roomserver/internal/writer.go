package internal

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// roomWriter adds local events to one room inside one database transaction (arrow 4:
// computing prev/auth events and sending new events). The caller holds the room's lock, so
// the forward extremities it reads stay the room's leaves until the commit. Every write of
// an event — the event and its DAG edges, its state snapshot, the current state, the
// memberships, the forward extremities, its stream position and its staged outputs — happens
// in that one transaction: the event and its outputs share one fate.
type roomWriter struct {
	a       *RoomserverInternalAPI
	s       *storage.Store
	tx      *sql.Tx
	room    *storage.Room
	version *matrix.RoomVersion
	// parsed caches events parsed from storage by numeric ID.
	parsed map[int64]matrix.PDU
	// pending are the outputs of this transaction, staged by flush in one outbox call.
	pending []pendingOutput
	// staged counts messages staged on the outbox, to Kick it after the commit.
	staged int
	// storedState / storedMessages count the events written, for the metrics after commit.
	storedState, storedMessages int
	// head is the room's in-memory head (room is &head.room); stale says this transaction
	// changed the state or extremities in a way head does not follow, so it must not be kept.
	head  *roomHead
	stale bool
	// lastPos is the newest topic 2 position flush assigned, and users the users whose
	// events were stored: what committed records for read-your-writes (writePositions).
	lastPos int64
	users   []string
	// promoting are the outliers being promoted by this transaction, by event ID
	// (federation_promote.go).
	promoting map[string]int64
}

// committed records the writer's events in the metrics, and its positions for
// read-your-writes (QueryWritePosition), once its transaction committed.
func (w *roomWriter) committed() {
	if w.lastPos > 0 {
		w.a.writes.Record(w.lastPos, append(w.users, w.room.RoomID)...)
	}
	if w.storedState > 0 {
		eventsStored.WithLabelValues("state").Add(float64(w.storedState))
	}
	if w.storedMessages > 0 {
		eventsStored.WithLabelValues("message").Add(float64(w.storedMessages))
	}
}

// wroteFor notes the users a stored event was written for (writtenFor), skipping a repeat
// of the last one noted (a group of one sender's messages notes them once).
func (w *roomWriter) wroteFor(e matrix.PDU) {
	for _, u := range writtenFor(e) {
		if n := len(w.users); n == 0 || w.users[n-1] != u {
			w.users = append(w.users, u)
		}
	}
}

// countStored counts one stored event.
func (w *roomWriter) countStored(e interface{ StateKey() *string }) {
	if e.StateKey() != nil {
		w.storedState++
	} else {
		w.storedMessages++
	}
}

// pendingOutput is an output waiting for flush. A topic 2 record gets its stream position
// at flush time, and so does its event row (eventNID, 0 for a redaction record).
type pendingOutput struct {
	topic, key string
	roomEvent  *api.OutputEvent
	eventNID   int64
	other      any
}

// sendOpts carries the sender's device and transaction for idempotency and for
// unsigned.transaction_id in the sender's sync.
type sendOpts struct {
	DeviceID, TxnID string
}

// newWriter returns a writer over head, the room's kept head or a new one.
func (a *RoomserverInternalAPI) newWriter(s *storage.Store, tx *sql.Tx, head *roomHead) (*roomWriter, error) {
	v, err := matrix.GetRoomVersion(matrix.RoomVersionID(head.room.RoomVersion))
	if err != nil {
		return nil, err
	}
	return &roomWriter{a: a, s: s, tx: tx, room: &head.room, head: head, version: v, parsed: map[int64]matrix.PDU{}}, nil
}

// stateEvents loads the state events of the given tuples: from the room's current state
// when from is nil, else from the state map from.
func (w *roomWriter) stateEvents(ctx context.Context, from storage.StateMap, tuples []matrix.StateKeyTuple) (map[matrix.StateKeyTuple]matrix.PDU, storage.StateMap, error) {
	var refs map[matrix.StateKeyTuple]storage.StateRef
	if from != nil {
		refs = map[matrix.StateKeyTuple]storage.StateRef{}
		var nids []int64
		for _, t := range tuples {
			if nid, ok := from[t]; ok {
				refs[t] = storage.StateRef{NID: nid}
				nids = append(nids, nid)
			}
		}
		ids, err := w.s.EventIDsByNID(ctx, nids)
		if err != nil {
			return nil, nil, err
		}
		for t, r := range refs {
			refs[t] = storage.StateRef{NID: r.NID, EventID: ids[r.NID]}
		}
	} else {
		var err error
		if refs, err = w.currentStateRefs(ctx, tuples); err != nil {
			return nil, nil, err
		}
	}
	var missing []int64
	for _, r := range refs {
		if w.parsed[r.NID] != nil {
			continue
		}
		if e := w.a.cache.get(r.EventID); e != nil {
			w.parsed[r.NID] = e
			continue
		}
		missing = append(missing, r.NID)
	}
	if len(missing) > 0 {
		rows, err := w.s.EventsByNID(ctx, missing)
		if err != nil {
			return nil, nil, err
		}
		for nid, row := range rows {
			e, err := w.a.events.Parse(w.version, row.EventID, row.JSON)
			if err != nil {
				return nil, nil, fmt.Errorf("roomserver: parsing stored event %s: %w", row.EventID, err)
			}
			w.parsed[nid] = e
			w.a.cache.put(e)
		}
	}
	out := make(map[matrix.StateKeyTuple]matrix.PDU, len(refs))
	nids := make(storage.StateMap, len(refs))
	for t, r := range refs {
		e := w.parsed[r.NID]
		if e == nil {
			return nil, nil, fmt.Errorf("roomserver: state names unknown event %d", r.NID)
		}
		out[t] = e
		nids[t] = r.NID
	}
	return out, nids, nil
}

// currentStateRefs returns the current state entries of tuples (missing tuples are absent),
// reading from the database only those the room's head does not know yet.
func (w *roomWriter) currentStateRefs(ctx context.Context, tuples []matrix.StateKeyTuple) (map[matrix.StateKeyTuple]storage.StateRef, error) {
	refs := make(map[matrix.StateKeyTuple]storage.StateRef, len(tuples))
	var unknown []matrix.StateKeyTuple
	for _, t := range tuples {
		r, ok := w.head.state[t]
		switch {
		case !ok:
			unknown = append(unknown, t)
		case r.NID != 0:
			refs[t] = r
		}
	}
	if len(unknown) == 0 {
		return refs, nil
	}
	read, err := w.s.CurrentStateRefs(ctx, w.room.RoomID, unknown)
	if err != nil {
		return nil, err
	}
	for _, t := range unknown {
		r := read[t] // zero: not in the current state
		w.head.state[t] = r
		if r.NID != 0 {
			refs[t] = r
		}
	}
	return refs, nil
}

// extremityDepths returns the room's forward extremities with their depths, from the head
// once loaded.
func (w *roomWriter) extremityDepths(ctx context.Context) (map[string]int64, error) {
	if w.head.extremities == nil {
		depths, err := w.s.ExtremityDepths(ctx, w.room.RoomID)
		if err != nil {
			return nil, err
		}
		w.head.extremities = depths
	}
	return w.head.extremities, nil
}

// stateEvent returns one current state event, or nil.
func (w *roomWriter) stateEvent(ctx context.Context, typ, key string) (matrix.PDU, error) {
	t := matrix.StateKeyTuple{EventType: typ, StateKey: key}
	m, _, err := w.stateEvents(ctx, nil, []matrix.StateKeyTuple{t})
	if err != nil {
		return nil, err
	}
	return m[t], nil
}

// store writes an authorised event on top of all forward extremities and stages its
// outputs; hv is the history visibility before it.
func (w *roomWriter) store(ctx context.Context, e matrix.PDU, hv string, opts sendOpts) error {
	before := w.room.SnapshotID
	row := &storage.EventRow{EventID: e.EventID(), RoomID: w.room.RoomID, Type: e.Type(), StateKey: e.StateKey(),
		Sender: e.Sender(), Depth: e.Depth(), OriginServerTS: e.OriginServerTS(), JSON: e.JSON(),
		StateBefore: before, StateAfter: before, PrevEventIDs: e.PrevEventIDs(), AuthEventIDs: e.AuthEventIDs()}
	nid, err := w.insertEvent(ctx, row)
	if err != nil {
		return err
	}
	w.parsed[nid] = e
	w.countStored(e)
	w.wroteFor(e)
	out := &api.OutputNewRoomEventData{RoomVersion: string(w.version.ID), Event: e.JSON(), EventID: e.EventID(),
		TxnDeviceID: opts.DeviceID, TxnID: opts.TxnID, HistoryVisibility: hv}
	if tuple, ok := matrix.Tuple(e); ok {
		if err := w.applyState(ctx, nid, e, tuple, out); err != nil {
			return err
		}
	}
	if err := w.s.UpdateForwardExtremities(ctx, w.room.RoomID, e.PrevEventIDs(), e.EventID()); err != nil {
		return err
	}
	if w.head.extremities != nil {
		for _, id := range e.PrevEventIDs() {
			delete(w.head.extremities, id)
		}
		w.head.extremities[e.EventID()] = e.Depth()
	}
	if opts.TxnID != "" {
		if err := w.s.InsertTxn(ctx, w.room.RoomID, e.Sender(), opts.DeviceID, opts.TxnID, e.EventID()); err != nil {
			return err
		}
	}
	// Topic 2 (roomserver → syncapi): the new event.
	w.pending = append(w.pending, pendingOutput{topic: w.a.topics.RoomEvent, key: w.room.RoomID, eventNID: nid,
		roomEvent: &api.OutputEvent{Type: api.OutputNewRoomEvent, NewRoomEvent: out}})
	// Topic 6 (roomserver → federationsender): the event for the room's other servers.
	return w.stageFederation(ctx, e)
}

// stageFederation stages topic 6 (roomserver → federationsender) for an event of a local
// sender in a room where other servers have joined members: its destinations are those
// servers after the event, plus the server of a remote user a membership event is about.
// Events of remote senders are not relayed (their origin sends them to every server).
func (w *roomWriter) stageFederation(ctx context.Context, e matrix.PDU) error {
	if w.a.topics.Federation == "" {
		return nil
	}
	if server, _ := matrix.ServerNameOf(e.Sender()); server != w.a.serverName {
		return nil
	}
	dests, err := w.federationDestinations(ctx, e)
	if err != nil || len(dests) == 0 {
		return err
	}
	w.pending = append(w.pending, pendingOutput{topic: w.a.topics.Federation, key: w.room.RoomID,
		other: api.OutputFederationEvent{RoomID: w.room.RoomID, RoomVersion: string(w.version.ID), EventID: e.EventID(),
			Event: e.JSON(), Destinations: dests}})
	return nil
}

// federationDestinations lists the other servers an event goes to (sorted). The joined
// members are read once per room head and then followed in memory (roomhead.go).
func (w *roomWriter) federationDestinations(ctx context.Context, e matrix.PDU) ([]string, error) {
	if w.head.joined == nil {
		members, err := w.s.RoomMembers(ctx, w.room.RoomID, auth.MembershipJoin)
		if err != nil {
			return nil, err
		}
		w.head.setJoined(members)
	}
	var dests []string
	for server := range w.head.servers {
		if server != w.a.serverName {
			dests = append(dests, server)
		}
	}
	if e.Type() == "m.room.member" && e.StateKey() != nil {
		if server, ok := matrix.ServerNameOf(*e.StateKey()); ok && server != w.a.serverName && w.head.servers[server] == 0 {
			dests = append(dests, server)
		}
	}
	sort.Strings(dests)
	return w.aclFilter(ctx, dests) // the room's server ACL (serveracl.go)
}

// applyState makes a state event part of the room's current state: a new snapshot (a delta
// over the previous one), the current state row, and for m.room.member the membership row
// and topic 4.
func (w *roomWriter) applyState(ctx context.Context, nid int64, e matrix.PDU, tuple matrix.StateKeyTuple, out *api.OutputNewRoomEventData) error {
	old, err := w.currentStateRefs(ctx, []matrix.StateKeyTuple{tuple})
	if err != nil {
		return err
	}
	if r, ok := old[tuple]; ok {
		out.RemovesStateEventIDs = []string{r.EventID}
	}
	out.AddsStateEventIDs = []string{e.EventID()}
	snap, err := w.s.NewSnapshot(ctx, w.room.RoomID, w.room.SnapshotID, storage.StateMap{tuple: nid})
	if err != nil {
		return err
	}
	if err := w.s.SetEventStateAfter(ctx, nid, snap); err != nil {
		return err
	}
	if err := w.s.SetRoomSnapshot(ctx, w.room.RoomID, snap); err != nil {
		return err
	}
	w.room.SnapshotID = snap
	if err := w.s.UpdateCurrentState(ctx, w.room.RoomID, storage.StateMap{tuple: nid}, nil); err != nil {
		return err
	}
	w.head.state[tuple] = storage.StateRef{NID: nid, EventID: e.EventID()}
	if tuple.EventType != "m.room.member" {
		return nil
	}
	return w.setMembership(ctx, tuple.StateKey, e, nid)
}

// setMembership records a member event as userID's membership and, for a local user,
// stages topic 4 (roomserver → clientapi).
func (w *roomWriter) setMembership(ctx context.Context, userID string, e matrix.PDU, nid int64) error {
	membership := auth.Membership(e)
	if err := w.s.SetMembership(ctx, w.room.RoomID, userID, membership, nid); err != nil {
		return err
	}
	w.head.noteMembership(userID, membership == auth.MembershipJoin)
	if server, ok := matrix.ServerNameOf(userID); ok && server == w.a.serverName {
		w.pending = append(w.pending, pendingOutput{topic: w.a.topics.Membership, key: userID, other: api.OutputMembership{
			RoomID: w.room.RoomID, UserID: userID, Membership: membership, EventID: e.EventID()}})
	}
	return nil
}

// flush assigns the topic 2 stream positions of this transaction's records and stages all
// its outputs in one outbox call. Run it last in the transaction: the counter row it
// updates stays locked until the commit (that lock is what makes positions commit in
// order), so taking it last keeps other rooms' transactions waiting as briefly as possible.
func (w *roomWriter) flush(ctx context.Context) error {
	records := 0
	for _, p := range w.pending {
		if p.roomEvent != nil {
			records++
		}
	}
	// All of the transaction's positions and its events' (AssignStreamPositions: one
	// statement on Postgres, two on SQLite).
	offsets := make(map[int64]int64, records)
	off := int64(0)
	for _, p := range w.pending {
		if p.roomEvent != nil {
			if p.eventNID != 0 {
				offsets[p.eventNID] = off
			}
			off++
		}
	}
	var pos int64
	if records > 0 {
		var err error
		if pos, err = w.s.AssignStreamPositions(ctx, records, offsets); err != nil {
			return err
		}
		w.lastPos = pos + int64(records) - 1
	}
	msgs := make([]eventlog.Message, 0, len(w.pending))
	// Every record notes when it was staged, just before the commit (the consumers' stage
	// timings: the syncapi's on topic 2, the federationsender's on topic 6).
	staged := eventlog.StagedAtHeaders(time.Now())
	for _, p := range w.pending {
		v := p.other
		if p.roomEvent != nil {
			p.roomEvent.StreamPos = pos
			pos++
			v = p.roomEvent
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		msgs = append(msgs, eventlog.Message{Topic: p.topic, Key: p.key, Value: b, Headers: staged})
	}
	w.pending = nil
	if len(msgs) == 0 {
		return nil
	}
	w.staged += len(msgs)
	return w.a.outbox.Stage(ctx, w.tx, msgs...)
}
