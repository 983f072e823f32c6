package internal

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/httputil"
)

// typer is one user typing in one room until expires.
type typer struct {
	expires time.Time
	timer   Stopper
}

// SetTyping implements api.EDUServerAPI. The room's whole set of typers after the change
// goes out as one topic 3 record (key: the room ID). A start while already typing renews
// the timeout and is published too (the expiry moved); a stop of someone not typing is a
// no-op. When the timeout passes, the eduserver stops the typing itself.
func (e *EDUServer) SetTyping(ctx context.Context, req *api.SetTypingRequest) error {
	if req.RoomID == "" || req.UserID == "" {
		return httputil.MissingParam("room_id and user_id are required")
	}
	if req.TimeoutMS < 0 {
		return httputil.InvalidParam("timeout must not be negative")
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout == 0 {
		timeout = api.DefaultTypingTimeout
	}
	timeout = min(timeout, api.MaxTypingTimeout)
	if !req.Typing {
		// The common stop (every message a user sends) of someone not typing: answered
		// from memory, without asking who is in the room.
		e.typingMu.Lock()
		typing := e.typing[req.RoomID][req.UserID] != nil
		e.typingMu.Unlock()
		if !typing {
			return nil
		}
	}
	fed := e.typingEDU(ctx, req.RoomID, req.UserID, req.Typing)

	// One room's changes are staged one at a time, so its records leave in the order of
	// the changes and each carries the set as it was after its change.
	e.typingMu.Lock()
	defer e.typingMu.Unlock()
	room := e.typing[req.RoomID]
	old := room[req.UserID]
	if !req.Typing && old == nil {
		return nil
	}
	if req.Typing {
		if room == nil {
			room = map[string]*typer{}
			e.typing[req.RoomID] = room
		}
		expires := e.Now().Add(timeout)
		t := &typer{expires: expires}
		roomID, userID := req.RoomID, req.UserID
		t.timer = e.AfterFunc(timeout, func() { e.expire(roomID, userID, t) })
		room[req.UserID] = t
	} else {
		delete(room, req.UserID)
	}
	if old != nil {
		old.timer.Stop()
	}
	pos, err := e.publishTyping(ctx, req.RoomID, fed)
	if err != nil {
		// Not published: put the set back as it was.
		if req.Typing {
			room[req.UserID].timer.Stop()
			delete(room, req.UserID)
		}
		if old != nil {
			room[req.UserID] = old
			old.timer = e.AfterFunc(time.Until(old.expires), func() { e.expire(req.RoomID, req.UserID, old) })
		}
		if len(room) == 0 {
			delete(e.typing, req.RoomID)
		}
		return err
	}
	if len(room) == 0 {
		delete(e.typing, req.RoomID)
	}
	e.noteWrite(pos, req.UserID)
	return nil
}

// expire ends t, a typing notification whose timeout passed, unless it was replaced since.
func (e *EDUServer) expire(roomID, userID string, t *typer) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fed := e.typingEDU(ctx, roomID, userID, false)
	e.typingMu.Lock()
	defer e.typingMu.Unlock()
	room := e.typing[roomID]
	if room[userID] != t {
		return
	}
	delete(room, userID)
	if _, err := e.publishTyping(ctx, roomID, fed); err != nil {
		// The consumers hide the typer after its expires_ts anyway.
		e.log.WithError(err).WithField("room_id", roomID).Warn("publishing the end of a typing notification")
	}
	if len(room) == 0 {
		delete(e.typing, roomID)
	}
}

// publishTyping stages the room's current typers (typingMu held), and fed on topic 5,
// and returns the topic 3 record's position.
func (e *EDUServer) publishTyping(ctx context.Context, roomID string, fed []fedRecord) (int64, error) {
	out := &api.OutputTyping{RoomID: roomID, Typers: []api.Typer{}}
	for u, t := range e.typing[roomID] {
		out.Typers = append(out.Typers, api.Typer{UserID: u, ExpiresTS: t.expires.UnixMilli()})
	}
	slices.SortFunc(out.Typers, func(a, b api.Typer) int {
		if a.UserID < b.UserID {
			return -1
		}
		if a.UserID > b.UserID {
			return 1
		}
		return 0
	})
	recs := []api.OutputEDU{{Kind: api.OutputTypingKind, Typing: out}}
	err := e.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		if err := e.stage(ctx, tx, recs, func(*api.OutputEDU) string { return roomID }); err != nil {
			return err
		}
		return e.stageFederation(ctx, tx, fed)
	})
	if err != nil {
		return 0, err
	}
	e.outbox.Kick()
	return recs[0].StreamPos, nil
}

// Typers returns the users typing in a room now, sorted (tests and, later, federation).
func (e *EDUServer) Typers(roomID string) []string {
	e.typingMu.Lock()
	defer e.typingMu.Unlock()
	var out []string
	for u := range e.typing[roomID] {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// typingEDU is the m.typing EDU of a local user's typing change for the other servers in
// the room (topic 5); none for another server's user, or when those servers cannot be
// listed (logged: typing is best effort).
func (e *EDUServer) typingEDU(ctx context.Context, roomID, userID string, typing bool) []fedRecord {
	if !e.isLocal(userID) {
		return nil
	}
	dests, err := e.joinedServers(ctx, roomID)
	if err != nil {
		e.log.WithError(err).WithField("room_id", roomID).Warn("listing the servers of a room for a typing notification")
		return nil
	}
	if len(dests) == 0 {
		return nil
	}
	r, err := newFedRecord(roomID, api.EDUTyping, dests, map[string]any{"room_id": roomID, "user_id": userID, "typing": typing})
	if err != nil {
		return nil
	}
	return []fedRecord{r}
}
