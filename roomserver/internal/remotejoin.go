package internal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/parallel"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// Option configures the roomserver at construction.
type Option func(a *RoomserverInternalAPI)

// WithFederationSender lets local users join rooms this server does not hold, through
// the federationsender (arrow 17: make_join/send_join on the wire). Without it such joins
// are M_NOT_FOUND.
func WithFederationSender(fs fsapi.FederationSenderAPI) Option {
	return func(a *RoomserverInternalAPI) { a.fedSender = fs }
}

// joinRemote joins a local user to a room this server does not hold: the federationsender
// performs the handshake (arrow 17) and returns the verified state and auth chain, which
// are stored here as the room (storeRemoteJoin).
func (a *RoomserverInternalAPI) joinRemote(ctx context.Context, roomID string, req *api.MembershipRequest, content map[string]json.RawMessage) (*api.SendEventResponse, error) {
	return a.joinThrough(ctx, roomID, req, content, nil)
}

// rejoinRemote joins a local user to a room this server holds but is no longer in (no
// local member joined): what it holds may be far behind, so the join goes through another
// server like a first join, and the room's current state and forward extremities become
// the ones the resident answered (storeRemoteJoin with rejoin set). The servers asked are
// the caller's, then those of the remote members last seen joined.
func (a *RoomserverInternalAPI) rejoinRemote(ctx context.Context, roomID string, req *api.MembershipRequest, content map[string]json.RawMessage, remoteServers []string) (*api.SendEventResponse, error) {
	return a.joinThrough(ctx, roomID, req, content, remoteServers)
}

// remoteOnly says whether the room has joined members and none of them is local, and lists
// their servers.
func (a *RoomserverInternalAPI) remoteOnly(ctx context.Context, roomID string) (bool, []string, error) {
	members, err := a.db.Reader().RoomMembers(ctx, roomID, auth.MembershipJoin)
	if err != nil || len(members) == 0 {
		return false, nil, err
	}
	var servers []string
	for _, m := range members {
		server, _ := matrix.ServerNameOf(m)
		if server == a.serverName {
			return false, nil, nil
		}
		if !slices.Contains(servers, server) {
			servers = append(servers, server)
		}
	}
	sort.Strings(servers)
	return true, servers, nil
}

// joinThrough is the remote join; rejoinVia set (possibly empty) means the room is held.
func (a *RoomserverInternalAPI) joinThrough(ctx context.Context, roomID string, req *api.MembershipRequest, content map[string]json.RawMessage, rejoinVia []string) (*api.SendEventResponse, error) {
	servers := append([]string(nil), req.ServerNames...)
	if s, ok := matrix.ServerNameOf(roomID); ok && s != a.serverName && !slices.Contains(servers, s) {
		servers = append(servers, s)
	}
	// Invited by another server's user: through that server too.
	servers = a.inviterServers(ctx, roomID, req.Sender, servers)
	for _, s := range rejoinVia {
		if s != a.serverName && !slices.Contains(servers, s) {
			servers = append(servers, s)
		}
	}
	if len(servers) == 0 {
		return nil, httputil.NotFound("Room %s is not known to this server, and no server to join it through was given", roomID)
	}
	resp, err := a.fedSender.PerformJoin(ctx, &fsapi.PerformJoinRequest{RoomID: roomID, UserID: req.Sender,
		ServerNames: servers, Content: mustJSON(content)})
	if err != nil {
		return nil, err
	}
	eventID, err := a.storeRemoteJoin(ctx, roomID, req.Sender, req.DeviceID, resp, rejoinVia != nil)
	if errors.Is(err, errRoomKnown) {
		// Another join of the room was stored meanwhile: this one is an event of it.
		eventID, err = a.inputOwnJoin(ctx, roomID, resp)
	}
	if err != nil {
		return nil, err
	}
	return &api.SendEventResponse{EventID: eventID, RoomID: roomID}, nil
}

// errRoomKnown says the room was stored by another join while this one was under way.
var errRoomKnown = errors.New("roomserver: room stored meanwhile")

// inputOwnJoin stores a remote join's event in a room that another join stored meanwhile,
// like a received event.
func (a *RoomserverInternalAPI) inputOwnJoin(ctx context.Context, roomID string, resp *fsapi.PerformJoinResponse) (string, error) {
	var eventID string
	err := a.writeRoom(ctx, "remote_join", roomID, func(ctx context.Context, w *roomWriter) error {
		e, err := w.parseReceived(api.FederationEvent{JSON: resp.JoinEvent})
		if err != nil {
			return err
		}
		o, err := w.inputReceived(ctx, e, false)
		if err != nil {
			return err
		}
		if o.res.Error != "" {
			return httputil.Unknown("The join could not be stored: %s", o.res.Error)
		}
		eventID = e.EventID()
		return nil
	})
	return eventID, err
}

// storeRemoteJoin stores a room joined through another server, in one transaction: the
// state and auth chain as outliers (each authorised against its own auth events; refused
// ones stored as rejected), the room row with its version, a snapshot of the state as the
// current state with its memberships, and the join event as the room's first timeline
// event after that state. Topic 2 carries the join with the whole state as added state
// (the syncapi fetches those events with QueryEvent), topic 4 the user's join.
//
// With rejoin set the room is held already (rejoinRemote): its row stays, the answered
// state replaces the current state (tuples it lacks are removed), and the join becomes the
// only forward extremity; topic 2 also names the state events removed.
func (a *RoomserverInternalAPI) storeRemoteJoin(ctx context.Context, roomID, userID, deviceID string, resp *fsapi.PerformJoinResponse, rejoin bool) (string, error) {
	v, err := matrix.GetRoomVersion(matrix.RoomVersionID(resp.RoomVersion))
	if err != nil {
		return "", httputil.Unknown("The room's version %q is not supported", resp.RoomVersion)
	}
	// Each event of the answer was parsed by the federationsender while it checked the
	// format, content hash and signatures: within the monolith the parsed events come
	// along (StateParsed/AuthChainParsed), over the internal HTTP API their IDs do
	// (StateEventIDs/AuthChainIDs), so the JSON is read as trusted, not hashed again. The
	// auth rules are still applied here to every event (storeOutliers).
	parse := func(js []byte, parsed []matrix.PDU, ids []string, n, i int) (matrix.PDU, error) {
		var e matrix.PDU
		var err error
		switch {
		case i < n && len(parsed) == n && parsed[i] != nil && parsed[i].Version().ID == v.ID:
			e = parsed[i]
		case i < n && len(ids) == n && ids[i] != "":
			e, err = a.events.Parse(v, ids[i], js)
		default:
			e, err = a.events.ParseReceived(v, js)
		}
		if err != nil {
			return nil, fmt.Errorf("roomserver: remote join of %s: bad event: %w", roomID, err)
		}
		if e.RoomID() != roomID {
			return nil, fmt.Errorf("roomserver: remote join of %s: event %s is in room %s", roomID, e.EventID(), e.RoomID())
		}
		return e, nil
	}
	join, err := parse(resp.JoinEvent, nil, nil, 0, 0)
	if err != nil {
		return "", err
	}
	if join.Type() != "m.room.member" || join.StateKey() == nil || *join.StateKey() != userID || auth.Membership(join) != auth.MembershipJoin {
		return "", fmt.Errorf("roomserver: remote join of %s: the join event is not %s's join", roomID, userID)
	}
	byID := make(map[string]matrix.PDU, len(resp.AuthChain)+len(resp.StateEvents))
	stateIDs := make([]string, 0, len(resp.StateEvents))
	for i, js := range resp.AuthChain {
		e, err := parse(js, resp.AuthChainParsed, resp.AuthChainIDs, len(resp.AuthChain), i)
		if err != nil {
			return "", err
		}
		byID[e.EventID()] = e
	}
	for i, js := range resp.StateEvents {
		e, err := parse(js, resp.StateParsed, resp.StateEventIDs, len(resp.StateEvents), i)
		if err != nil {
			return "", err
		}
		if e.StateKey() == nil {
			return "", fmt.Errorf("roomserver: remote join of %s: state event %s has no state_key", roomID, e.EventID())
		}
		byID[e.EventID()] = e
		stateIDs = append(stateIDs, e.EventID())
	}
	var create matrix.PDU
	for _, e := range byID {
		if e.Type() == "m.room.create" && e.StateKey() != nil && *e.StateKey() == "" {
			create = e
		}
	}
	if create == nil {
		return "", fmt.Errorf("roomserver: remote join of %s: no create event in the state", roomID)
	}

	unlock := a.locks.lock(roomID)
	defer unlock()
	if rejoin {
		a.heads.take(roomID) // the head held in memory describes the state replaced here
	}
	var writer *roomWriter
	err = a.db.WithTx(ctx, func(s *storage.Store, tx *sql.Tx) error {
		if room, err := s.GetRoom(ctx, roomID); err != nil {
			return err
		} else if room != nil && !rejoin {
			return errRoomKnown
		} else if room == nil && rejoin {
			return fmt.Errorf("roomserver: rejoin of %s: the room is not held", roomID)
		}
		if !rejoin {
			if err := s.InsertRoom(ctx, roomID, string(v.ID), create.Sender(), a.now().UnixMilli()); err != nil {
				return err
			}
		}
		room, err := s.GetRoom(ctx, roomID)
		if err != nil {
			return err
		}
		if room.RoomVersion != string(v.ID) {
			return fmt.Errorf("roomserver: rejoin of %s: the resident says version %s, this server holds %s", roomID, v.ID, room.RoomVersion)
		}
		var oldState storage.StateMap
		var oldExtremities []string
		if rejoin {
			if oldState, err = s.LoadSnapshot(ctx, room.SnapshotID); err != nil {
				return err
			}
			if oldExtremities, err = s.ForwardExtremities(ctx, roomID); err != nil {
				return err
			}
		}
		w, err := a.newWriter(s, tx, newRoomHead(*room))
		if err != nil {
			return err
		}
		writer = w
		w.stale = true // the head is rebuilt from the tables on the next write
		rejected, nids, err := w.storeOutliers(ctx, byID, create)
		if err != nil {
			return err
		}
		state := storage.StateMap{}
		for _, id := range stateIDs {
			if rejected[id] {
				continue
			}
			t, _ := matrix.Tuple(byID[id])
			state[t] = nids[id]
		}
		snap, err := s.NewSnapshot(ctx, roomID, 0, state)
		if err != nil {
			return err
		}
		if err := s.SetRoomSnapshot(ctx, roomID, snap); err != nil {
			return err
		}
		w.room.SnapshotID = snap
		var gone []matrix.StateKeyTuple
		var goneNIDs []int64
		for t, nid := range oldState {
			if _, ok := state[t]; !ok {
				gone = append(gone, t)
				goneNIDs = append(goneNIDs, nid)
			}
		}
		if err := s.UpdateCurrentState(ctx, roomID, nil, gone); err != nil {
			return err
		}
		if err := s.SetCurrentState(ctx, roomID, state); err != nil {
			return err
		}
		var members []storage.MembershipRow
		for t, nid := range state {
			if t.EventType == "m.room.member" {
				members = append(members, storage.MembershipRow{UserID: t.StateKey, Membership: auth.Membership(w.parsed[nid]), EventNID: nid})
			}
		}
		if err := s.SetMemberships(ctx, roomID, members); err != nil {
			return err
		}
		if rejoin {
			// The join will be the room's only forward extremity: what this server held
			// before is history the resident's state already accounts for.
			if err := s.UpdateForwardExtremities(ctx, roomID, oldExtremities, join.EventID()); err != nil {
				return err
			}
		}
		// The join itself: authorised against its auth events and the state before it.
		o, err := w.inputReceived(ctx, join, true)
		if err != nil {
			return err
		}
		if o.res.Error != "" {
			return httputil.Forbidden("The join returned by the remote server is not allowed: %s", o.res.Error)
		}
		var goneIDs []string
		if len(goneNIDs) > 0 {
			ids, err := s.EventIDsByNID(ctx, goneNIDs)
			if err != nil {
				return err
			}
			for _, id := range ids {
				goneIDs = append(goneIDs, id)
			}
			sort.Strings(goneIDs)
		}
		// Topic 2: the join adds the whole state.
		adds := make([]string, 0, len(stateIDs)+1)
		for _, id := range stateIDs {
			if !rejected[id] {
				adds = append(adds, id)
			}
		}
		sort.Strings(adds)
		for i := range w.pending {
			if p := w.pending[i].roomEvent; p != nil && p.NewRoomEvent != nil && p.NewRoomEvent.EventID == join.EventID() {
				// The join replaced the user's earlier membership in the state it came with
				// (an invite, say): that one is not added, and the syncapi never had it.
				replaced := map[string]bool{}
				for _, id := range p.NewRoomEvent.RemovesStateEventIDs {
					replaced[id] = true
				}
				var all []string
				for _, id := range adds {
					if !replaced[id] {
						all = append(all, id)
					}
				}
				p.NewRoomEvent.AddsStateEventIDs = append(all, join.EventID())
				p.NewRoomEvent.RemovesStateEventIDs = goneIDs
				p.NewRoomEvent.TxnDeviceID = deviceID
			}
		}
		return w.flush(ctx)
	})
	if err != nil {
		return "", err
	}
	writer.committed()
	if writer.staged > 0 {
		a.outbox.Kick()
	}
	return join.EventID(), nil
}

// storeOutliers stores events as outliers, each after its auth events and authorised
// against them; those refused (or citing refused or unknown auth events) are stored as
// rejected. It returns the rejected IDs and every stored event's numeric ID.
//
// A depth-first walk orders the events (auth events before their users) and gives each its
// level: 0 for an event citing no new event, else one more than its highest new auth
// event. The events of a level are then authorised on every core, each against decisions
// of lower levels only (a large join's tens of thousands of members are one level).
func (w *roomWriter) storeOutliers(ctx context.Context, byID map[string]matrix.PDU, create matrix.PDU) (map[string]bool, map[string]int64, error) {
	rejected := map[string]bool{}
	nids := map[string]int64{}
	visiting := map[string]bool{}
	// Depth order first, so the walk is deterministic; auth events go before their users.
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if di, dj := byID[ids[i]].Depth(), byID[ids[j]].Depth(); di != dj {
			return di < dj
		}
		return ids[i] < ids[j]
	})
	existing, err := w.s.EventsByID(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	level := map[string]int{}
	var order []string
	// visit returns the event's level, -1 for one stored before or not given.
	var visit func(id string) (int, error)
	visit = func(id string) (int, error) {
		e := byID[id]
		if e == nil {
			return -1, nil
		}
		if l, done := level[id]; done {
			return l, nil
		}
		// Stored before (the invite that let the user join, kept as an outlier): as it is.
		if old := existing[id]; old != nil {
			rejected[id], nids[id] = old.IsRejected, old.NID
			w.parsed[old.NID] = e
			level[id] = -1
			return -1, nil
		}
		if visiting[id] {
			return 0, fmt.Errorf("roomserver: auth events of %s form a cycle", id)
		}
		visiting[id] = true
		l := 0
		for _, aid := range e.AuthEventIDs() {
			al, err := visit(aid)
			if err != nil {
				return 0, err
			}
			l = max(l, al+1)
		}
		level[id] = l
		order = append(order, id)
		return l, nil
	}
	var levels [][]string
	for _, id := range ids {
		l, err := visit(id)
		if err != nil {
			return nil, nil, err
		}
		for l >= len(levels) {
			levels = append(levels, nil)
		}
	}
	for _, id := range order {
		levels[level[id]] = append(levels[level[id]], id)
	}
	for _, lv := range levels {
		bad := make([]bool, len(lv))
		parallel.Each(len(lv), parallelMin, func(i int) { bad[i] = refusedOutlier(byID[lv[i]], byID, rejected, create) })
		for i, id := range lv {
			rejected[id] = bad[i]
		}
	}
	rows := make([]*storage.EventRow, 0, len(order))
	for _, id := range order {
		e := byID[id]
		rows = append(rows, &storage.EventRow{EventID: id, RoomID: w.room.RoomID, Type: e.Type(),
			StateKey: e.StateKey(), Sender: e.Sender(), Depth: e.Depth(), OriginServerTS: e.OriginServerTS(), JSON: e.JSON(),
			IsOutlier: true, IsRejected: rejected[id], PrevEventIDs: e.PrevEventIDs(), AuthEventIDs: e.AuthEventIDs()})
	}
	// The auth decisions need only the events in memory, so all new events are written at
	// the end, a few hundred per statement.
	if _, err := w.s.InsertEvents(ctx, rows); err != nil {
		return nil, nil, err
	}
	for _, r := range rows {
		nids[r.EventID] = r.NID
		w.parsed[r.NID] = byID[r.EventID]
	}
	return rejected, nids, nil
}

// refusedOutlier says whether e is refused: it cites an auth event not given or refused, or
// the auth rules refuse it against its auth events. It only reads byID and rejected (the
// decisions of e's auth events, made before).
func refusedOutlier(e matrix.PDU, byID map[string]matrix.PDU, rejected map[string]bool, create matrix.PDU) bool {
	var authPDUs []matrix.PDU
	for _, aid := range e.AuthEventIDs() {
		if byID[aid] == nil || rejected[aid] {
			return true
		}
		authPDUs = append(authPDUs, byID[aid])
	}
	if e.Type() == "m.room.create" && len(e.AuthEventIDs()) == 0 {
		provider, err := auth.NewAuthEvents(nil)
		if err == nil {
			err = auth.Allowed(e, provider)
		}
		return err != nil
	}
	provider, err := auth.CheckAuthEvents(e, authPDUs, create)
	if err == nil {
		err = auth.Allowed(e, provider)
	}
	return err != nil
}

// parallelMin is the fewest events of one auth chain level parallel.Each gives each
// goroutine: below it the level is checked on the calling goroutine.
const parallelMin = 64
