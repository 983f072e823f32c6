package internal

import (
	"context"
	"database/sql"
	"time"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/eduserver/storage"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
)

// DefaultPresenceIdle is how long a user stays online or unavailable without activity
// (config edu_server.presence_idle_timeout).
const DefaultPresenceIdle = 5 * time.Minute

// RemotePresenceIdle is how long another server's user stays online or unavailable
// without an m.presence EDU (their server may have gone away without saying so).
const RemotePresenceIdle = 30 * time.Minute

// SetPresence implements api.EDUServerAPI. A change of state, status message or
// currently_active is stored and staged on topic 3 (key: the user ID) in one
// transaction; activity alone only moves last_active_ts (no record: a syncing user does
// not wake everyone who shares a room with them each time).
func (e *EDUServer) SetPresence(ctx context.Context, req *api.SetPresenceRequest) error {
	if req.UserID == "" {
		return httputil.MissingParam("user_id is required")
	}
	switch req.Presence {
	case api.PresenceOnline, api.PresenceUnavailable, api.PresenceOffline:
	default:
		return httputil.InvalidParam("presence must be online, unavailable or offline")
	}
	if req.StatusMsg != nil && len(*req.StatusMsg) > api.MaxStatusMsgLength {
		return httputil.InvalidParam("status_msg is longer than %d bytes", api.MaxStatusMsgLength)
	}
	if !e.PresenceEnabled || (req.FromSync && req.Presence == api.PresenceOffline) {
		return nil
	}
	return e.setPresence(ctx, req, e.nowMS())
}

// setPresence applies req (validated) with activity at ts.
func (e *EDUServer) setPresence(ctx context.Context, req *api.SetPresenceRequest, ts int64) error {
	e.presenceMu.Lock()
	defer e.presenceMu.Unlock()
	old, err := storage.GetPresence(ctx, e.db.Reader(), req.UserID)
	if err != nil {
		return err
	}
	next := storage.Presence{UserID: req.UserID, Presence: req.Presence, StatusMsg: req.StatusMsg, LastActiveTS: ts}
	if req.FromSync && old != nil {
		next.StatusMsg = old.StatusMsg
		if req.Presence == api.PresenceOnline && old.Presence == api.PresenceUnavailable {
			next.Presence = api.PresenceUnavailable // a /sync does not undo an explicit "away"
		}
	}
	if req.Presence == api.PresenceOffline && old != nil {
		next.LastActiveTS = old.LastActiveTS // going offline is no activity
	}
	next.CurrentlyActive = next.Presence == api.PresenceOnline
	if old != nil && old.Presence == next.Presence && old.CurrentlyActive == next.CurrentlyActive && sameMsg(old.StatusMsg, next.StatusMsg) {
		if next.LastActiveTS > old.LastActiveTS {
			return e.db.TouchPresence(ctx, req.UserID, next.LastActiveTS)
		}
		return nil
	}
	// Topic 5: a local user's change goes to the servers sharing a room with them.
	var fed []fedRecord
	if e.isLocal(req.UserID) {
		dests, err := e.presenceServers(ctx, req.UserID)
		if err != nil {
			e.log.WithError(err).WithField("user_id", req.UserID).Warn("listing the servers to tell of a presence change")
		}
		push := map[string]any{"user_id": next.UserID, "presence": next.Presence, "currently_active": next.CurrentlyActive,
			"last_active_ago": max(0, e.nowMS()-next.LastActiveTS)}
		if next.StatusMsg != nil {
			push["status_msg"] = *next.StatusMsg
		}
		if r, err := newFedRecord(req.UserID, api.EDUPresence, dests, map[string]any{"push": []any{push}}); err == nil {
			fed = []fedRecord{r}
		}
	}
	var pos int64
	err = e.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		recs := []api.OutputEDU{{Kind: api.OutputPresenceKind, Presence: &api.OutputPresence{UserID: next.UserID,
			Presence: next.Presence, StatusMsg: next.StatusMsg, LastActiveTS: next.LastActiveTS, CurrentlyActive: next.CurrentlyActive}}}
		if err := e.stage(ctx, tx, recs, func(*api.OutputEDU) string { return req.UserID }); err != nil {
			return err
		}
		next.StreamPos = recs[0].StreamPos
		pos = next.StreamPos
		if err := e.stageFederation(ctx, tx, fed); err != nil {
			return err
		}
		return storage.UpsertPresence(ctx, tx, &next)
	})
	if err != nil {
		return err
	}
	e.outbox.Kick()
	e.noteWrite(pos, req.UserID)
	return nil
}

func sameMsg(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// GetPresence implements api.EDUServerAPI.
func (e *EDUServer) GetPresence(ctx context.Context, userID string) (*api.PresenceResponse, error) {
	if userID == "" {
		return nil, httputil.MissingParam("user_id is required")
	}
	off := &api.PresenceResponse{Presence: api.PresenceOffline}
	if !e.PresenceEnabled {
		return off, nil
	}
	p, err := storage.GetPresence(ctx, e.db.Reader(), userID)
	if err != nil || p == nil {
		return off, err
	}
	return &api.PresenceResponse{Presence: p.Presence, StatusMsg: p.StatusMsg,
		LastActiveAgo: max(0, e.nowMS()-p.LastActiveTS), CurrentlyActive: p.CurrentlyActive}, nil
}

// RunPresenceIdler sets users offline whose last activity is older than PresenceIdle
// (RemotePresenceIdle for other servers' users), checking every PresenceIdle/5 (at most
// once a minute), until ctx is done; it returns nil then.
func (e *EDUServer) RunPresenceIdler(ctx context.Context) error {
	if !e.PresenceEnabled {
		return nil
	}
	every := min(max(e.PresenceIdle/5, time.Second), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := e.idleOut(ctx); err != nil && ctx.Err() == nil {
			e.log.WithError(err).Warn("setting idle users offline")
		}
	}
}

// idleOut sets idle users offline once.
func (e *EDUServer) idleOut(ctx context.Context) error {
	now := e.Now()
	users, err := e.db.IdlePresence(ctx, now.Add(-e.PresenceIdle).UnixMilli())
	if err != nil {
		return err
	}
	for _, u := range users {
		_, server, err := matrix.ParseUserID(u)
		if err != nil {
			continue
		}
		if server != e.serverName {
			p, err := storage.GetPresence(ctx, e.db.Reader(), u)
			if err != nil || p == nil || p.LastActiveTS >= now.Add(-RemotePresenceIdle).UnixMilli() {
				continue
			}
		}
		// Re-checked under the lock by setPresence: activity since the query keeps the
		// state only if it came first; offline keeps the last active time.
		if err := e.setOfflineIfIdle(ctx, u, now.Add(-e.PresenceIdle).UnixMilli()); err != nil {
			return err
		}
	}
	return nil
}

// setOfflineIfIdle sets u offline unless they were active at or after beforeTS.
func (e *EDUServer) setOfflineIfIdle(ctx context.Context, u string, beforeTS int64) error {
	e.presenceMu.Lock()
	p, err := storage.GetPresence(ctx, e.db.Reader(), u)
	e.presenceMu.Unlock()
	if err != nil || p == nil || p.Presence == api.PresenceOffline {
		return err
	}
	if _, server, _ := matrix.ParseUserID(u); server == e.serverName && p.LastActiveTS >= beforeTS {
		return nil
	}
	return e.setPresence(ctx, &api.SetPresenceRequest{UserID: u, Presence: api.PresenceOffline, StatusMsg: p.StatusMsg}, e.nowMS())
}

// noteWrite records pos as the newest topic 3 position users' /sync must reflect
// (QueryWritePosition).
func (e *EDUServer) noteWrite(pos int64, users ...string) {
	e.writesMu.Lock()
	defer e.writesMu.Unlock()
	if len(e.writes) >= maxTrackedWriters {
		// Start afresh; the floor covers the forgotten writes.
		for _, p := range e.writes {
			e.writesFloor = max(e.writesFloor, p)
		}
		e.writes = map[string]int64{}
	}
	for _, u := range users {
		e.writes[u] = max(e.writes[u], pos)
	}
}

// maxTrackedWriters bounds the read-your-writes map.
const maxTrackedWriters = 200000

// QueryWritePosition implements api.EDUServerAPI (arrow 18, read your own writes).
func (e *EDUServer) QueryWritePosition(_ context.Context, userID string) (int64, error) {
	e.writesMu.Lock()
	defer e.writesMu.Unlock()
	return max(e.writes[userID], e.writesFloor), nil
}

// SetWritesFloor sets the position QueryWritePosition gives at least: the newest position
// handed out when the eduserver started (writes from before are not recorded).
func (e *EDUServer) SetWritesFloor(pos int64) {
	e.writesMu.Lock()
	defer e.writesMu.Unlock()
	e.writesFloor = max(e.writesFloor, pos)
}
