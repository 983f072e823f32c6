package internal

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// DefaultPaginationLimit is /messages' and /context's limit when the client gives none.
const DefaultPaginationLimit = 10

// MaxPaginationLimit caps the limit of /messages and /context.
const MaxPaginationLimit = 1000

// roomAccess is what a user may read of a room: events up to upTo (the current position
// while joined or when the room is world readable, the leave for a user who left), each
// subject to vis.
type roomAccess struct {
	vis  *roomVisibility
	upTo int64
}

// access decides whether userID may read roomID at all. A user who was never joined
// cannot read a room that is not world readable: M_FORBIDDEN (403), also for unknown rooms
// (so nobody learns which rooms exist), as Synapse does.
func (s *Syncer) access(ctx context.Context, roomID, userID string) (*roomAccess, error) {
	pos := s.notifier.Position().Room
	vis, err := s.loadVisibility(ctx, roomID, userID, pos)
	if err != nil {
		return nil, err
	}
	vis.ignored = s.notifier.IgnoredBy(userID)
	switch {
	case vis.current() == "join" || vis.worldReadableNow():
		return &roomAccess{vis: vis, upTo: pos}, nil
	case vis.everJoined():
		// A user who left and then forgot the room reads it no more (forget.go).
		if err := s.checkNotForgotten(ctx, roomID, vis, pos); err != nil {
			return nil, err
		}
		last := -1
		for i, m := range vis.memberships {
			if m.Membership == "join" {
				last = i
			}
		}
		upTo := pos
		if last+1 < len(vis.memberships) {
			upTo = vis.memberships[last+1].Pos
		}
		return &roomAccess{vis: vis, upTo: upTo}, nil
	}
	return nil, httputil.Forbidden("User %s is not in room %s", userID, roomID)
}

// CheckRoomAccess is the room endpoints' authorisation alone: nil if userID may read
// roomID at all, else M_FORBIDDEN. Handlers call it before answering a bad parameter, so
// that a user outside the room learns nothing from the order of the checks.
func (s *Syncer) CheckRoomAccess(ctx context.Context, roomID, userID string) error {
	if err := s.catchUpToWrites(ctx, WritesToReflect{Endpoint: "room_access", RoomID: roomID}); err != nil {
		return err
	}
	_, err := s.access(ctx, roomID, userID)
	return err
}

// page reads events of a room for pagination: backwards, the events at positions ≤ cur
// and > bound, newest first; forwards, the events at positions > cur and ≤ bound, oldest
// first; keeping up to limit that pass the filter and that the user may see, reading at
// most maxScan rows. next is the token position to continue from; more is false when the
// range is exhausted.
func (s *Syncer) page(ctx context.Context, roomID string, cur, bound int64, backwards bool, limit int, f *RoomEventFilter, vis *roomVisibility) (evs []storage.Event, next int64, more bool, err error) {
	scanned := 0
	for len(evs) < limit {
		if scanned >= maxScan {
			return evs, cur, true, nil // a bounded amount per request; continue from cur
		}
		var batch []storage.Event
		if backwards {
			if cur <= bound {
				return evs, cur, false, nil
			}
			batch, err = s.db.RoomEvents(ctx, roomID, bound, cur, true, scanBatch)
		} else {
			if cur >= bound {
				return evs, cur, false, nil
			}
			batch, err = s.db.RoomEvents(ctx, roomID, cur, bound, false, scanBatch)
		}
		if err != nil {
			return nil, 0, false, err
		}
		if len(batch) == 0 {
			return evs, cur, false, nil
		}
		scanned += len(batch)
		for i := range batch {
			e := &batch[i]
			if backwards {
				cur = e.StreamPos - 1
			} else {
				cur = e.StreamPos
			}
			if f.MatchesEvent(roomID, e.Type, e.Sender, eventContent(e)) && vis.canSee(e) {
				evs = append(evs, *e)
				if len(evs) == limit {
					break
				}
			}
		}
		if len(batch) < scanBatch && len(evs) < limit {
			return evs, cur, false, nil
		}
	}
	// Full page: there is more unless the range ends right here.
	if backwards {
		return evs, cur, cur > bound, nil
	}
	return evs, cur, cur < bound, nil
}

// MessagesRequest is a parsed GET /rooms/{roomId}/messages.
type MessagesRequest struct {
	UserID, DeviceID, RoomID string
	// From and To are nil when not given.
	From, To  *types.PaginationToken
	FromText  string
	Backwards bool
	Limit     int
	Filter    *RoomEventFilter
}

// MessagesResponse is the body of /messages.
type MessagesResponse struct {
	Chunk []json.RawMessage `json:"chunk"`
	Start string            `json:"start"`
	End   string            `json:"end,omitempty"`
	State []json.RawMessage `json:"state,omitempty"`
}

// Messages pages through a room's timeline (GET /rooms/{roomId}/messages). Without from,
// backwards pagination starts at the newest event the user may see and forwards at the
// room's beginning. end is omitted when no further events are available. A from token
// ahead of this instance (served by another one) waits until it has caught up (catchUp).
func (s *Syncer) Messages(ctx context.Context, req *MessagesRequest) (*MessagesResponse, error) {
	if err := s.catchUpToWrites(ctx, WritesToReflect{Endpoint: "messages", RoomID: req.RoomID}); err != nil {
		return nil, err
	}
	if req.From != nil {
		if err := s.catchUpToPos(ctx, req.From.Pos); err != nil {
			return nil, err
		}
	}
	acc, err := s.access(ctx, req.RoomID, req.UserID)
	if err != nil {
		return nil, err
	}
	var cur, bound int64
	if req.Backwards {
		cur = acc.upTo
		if req.From != nil && req.From.Pos < cur {
			cur = req.From.Pos
		}
		bound = historyBound // backfilled history included (backfill.go)
		if req.To != nil {
			bound = req.To.Pos
		}
	} else {
		bound = acc.upTo
		if req.From != nil {
			cur = req.From.Pos
		}
		if req.To != nil && req.To.Pos < bound {
			bound = req.To.Pos
		}
	}
	start := req.FromText
	if start == "" {
		start = types.PaginationToken{Pos: cur}.String()
	}
	evs, next, more, err := s.page(ctx, req.RoomID, cur, bound, req.Backwards, req.Limit, req.Filter, acc.vis)
	if err == nil && req.Backwards && req.To == nil && !more && len(evs) < req.Limit {
		// The start of what this server holds: history from the room's other servers
		// (arrow 2 → 17, backfill.go).
		var older []storage.Event
		older, next, more, err = s.pageBackfilled(ctx, req.RoomID, next, req.Limit-len(evs), req.Filter, acc.vis)
		evs = append(evs, older...)
	}
	if err != nil {
		return nil, err
	}
	fo := FormatOptions{IncludeRoomID: true, UserID: req.UserID, DeviceID: req.DeviceID, Now: s.Now()}
	resp := &MessagesResponse{Chunk: ClientEvents(evs, withMembership(fo, acc.vis)), Start: start}
	if more {
		resp.End = types.PaginationToken{Pos: next}.String()
	}
	if req.Filter.LazyLoadMembers {
		st, err := s.senderMembers(ctx, req.RoomID, evs)
		if err != nil {
			return nil, err
		}
		resp.State = ClientEvents(st, fo)
	}
	return resp, nil
}

// senderMembers returns the membership event in force at each sender's (first) event.
func (s *Syncer) senderMembers(ctx context.Context, roomID string, evs []storage.Event) ([]storage.Event, error) {
	seenSender := map[string]bool{}
	var out []storage.Event
	for _, e := range evs {
		if seenSender[e.Sender] {
			continue
		}
		seenSender[e.Sender] = true
		m, err := s.db.StateEventAt(ctx, roomID, "m.room.member", e.Sender, e.StreamPos)
		if err != nil {
			return nil, err
		}
		if m != nil {
			out = append(out, *m)
		}
	}
	return out, nil
}

// ContextResponse is the body of /context.
type ContextResponse struct {
	Start        string            `json:"start"`
	End          string            `json:"end"`
	EventsBefore []json.RawMessage `json:"events_before"`
	Event        json.RawMessage   `json:"event"`
	EventsAfter  []json.RawMessage `json:"events_after"`
	State        []json.RawMessage `json:"state"`
}

// Context returns an event with up to limit/2 events before it and the rest after it, and
// the room's state at the last event returned (GET /rooms/{roomId}/context/{eventId}). An
// event this instance has not reached yet is waited for (catchUpToEvent).
func (s *Syncer) Context(ctx context.Context, userID, deviceID, roomID, eventID string, limit int, f *RoomEventFilter) (*ContextResponse, error) {
	if err := s.catchUpToWrites(ctx, WritesToReflect{Endpoint: "context", RoomID: roomID}); err != nil {
		return nil, err
	}
	stored, err := s.catchUpToEvent(ctx, roomID, eventID)
	if err != nil {
		return nil, err
	}
	acc, err := s.access(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	e, err := visibleEvent(acc, roomID, stored)
	if err != nil {
		return nil, err
	}
	beforeN := limit / 2
	before, _, _, err := s.page(ctx, roomID, e.StreamPos-1, 0, true, beforeN, f, acc.vis)
	if err != nil {
		return nil, err
	}
	after, _, _, err := s.page(ctx, roomID, e.StreamPos, acc.upTo, false, limit-beforeN, f, acc.vis)
	if err != nil {
		return nil, err
	}
	start, end := e.StreamPos-1, e.StreamPos
	if len(before) > 0 {
		start = before[len(before)-1].StreamPos - 1
	}
	if len(after) > 0 {
		end = after[len(after)-1].StreamPos
	}
	state, err := s.db.StateAt(ctx, roomID, end)
	if err != nil {
		return nil, err
	}
	all := append(append(append([]storage.Event{}, before...), *e), after...)
	state = filterState(roomID, state, nil, all, f, userID)
	fo := FormatOptions{IncludeRoomID: true, UserID: userID, DeviceID: deviceID, Now: s.Now()}
	tfo := withMembership(fo, acc.vis)
	return &ContextResponse{
		Start: types.PaginationToken{Pos: start}.String(), End: types.PaginationToken{Pos: end}.String(),
		EventsBefore: ClientEvents(before, tfo), Event: ClientEvent(e, tfo), EventsAfter: ClientEvents(after, tfo),
		State: ClientEvents(state, fo),
	}, nil
}

// visibleEvent returns e if it is a timeline event of the room that the user may see, else M_NOT_FOUND.
func visibleEvent(acc *roomAccess, roomID string, e *storage.Event) (*storage.Event, error) {
	if e == nil || e.RoomID != roomID || e.StreamPos == 0 || e.StreamPos > acc.upTo || !acc.vis.canSee(e) {
		return nil, httputil.NotFound("Event not found")
	}
	return e, nil
}

// Event returns one event in client format (GET /rooms/{roomId}/event/{eventId}); a
// redacted event has its redacted content and unsigned.redacted_because. An event this
// instance has not reached yet is waited for (catchUpToEvent).
func (s *Syncer) Event(ctx context.Context, userID, deviceID, roomID, eventID string) (json.RawMessage, error) {
	if err := s.catchUpToWrites(ctx, WritesToReflect{Endpoint: "event", RoomID: roomID}); err != nil {
		return nil, err
	}
	stored, err := s.catchUpToEvent(ctx, roomID, eventID)
	if err != nil {
		return nil, err
	}
	acc, err := s.access(ctx, roomID, userID)
	if me := httputil.AsMatrixError(err); err != nil && me.ErrCode == "M_FORBIDDEN" {
		// The spec's one answer for "not found or not yours to read": a user outside the
		// room learns nothing about its events (not even that the room exists).
		return nil, httputil.NotFound("Event not found")
	}
	if err != nil {
		return nil, err
	}
	e, err := visibleEvent(acc, roomID, stored)
	if err != nil {
		return nil, err
	}
	fo := FormatOptions{IncludeRoomID: true, UserID: userID, DeviceID: deviceID, Now: s.Now()}
	return ClientEvent(e, withMembership(fo, acc.vis)), nil
}

// Members returns the room's m.room.member events at `at` (default: now, or the user's
// leave), keeping those whose membership is `membership` (if set) and is not
// `notMembership` (if set) (GET /rooms/{roomId}/members).
func (s *Syncer) Members(ctx context.Context, userID, roomID string, at *types.PaginationToken, membership, notMembership string) ([]json.RawMessage, error) {
	if err := s.catchUpToWrites(ctx, WritesToReflect{Endpoint: "members", RoomID: roomID}); err != nil {
		return nil, err
	}
	acc, err := s.access(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	pos := acc.upTo
	if at != nil && at.Pos < pos {
		pos = at.Pos
	}
	evs, err := s.db.StateAt(ctx, roomID, pos, "m.room.member")
	if err != nil {
		return nil, err
	}
	var keep []storage.Event
	for _, e := range evs {
		if (membership != "" && e.Membership != membership) || (notMembership != "" && e.Membership == notMembership) {
			continue
		}
		keep = append(keep, e)
	}
	return ClientEvents(keep, FormatOptions{IncludeRoomID: true, UserID: userID, Now: s.Now()}), nil
}

// JoinedMember is one entry of /joined_members.
type JoinedMember struct {
	DisplayName *string `json:"display_name"`
	AvatarURL   *string `json:"avatar_url"`
}

// JoinedMembers lists the joined members and their room profiles (GET
// /rooms/{roomId}/joined_members), for users joined now or rooms that are world readable.
func (s *Syncer) JoinedMembers(ctx context.Context, userID, roomID string) (map[string]JoinedMember, error) {
	if err := s.catchUpToWrites(ctx, WritesToReflect{Endpoint: "joined_members", RoomID: roomID}); err != nil {
		return nil, err
	}
	acc, err := s.access(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	if acc.vis.current() != "join" && !acc.vis.worldReadableNow() {
		return nil, httputil.Forbidden("User %s is not in room %s", userID, roomID)
	}
	evs, err := s.db.StateAt(ctx, roomID, acc.upTo, "m.room.member")
	if err != nil {
		return nil, err
	}
	out := map[string]JoinedMember{}
	for i := range evs {
		e := &evs[i]
		if e.Membership != "join" || e.StateKey == nil {
			continue
		}
		var jm JoinedMember
		if dn := contentField(e, "displayname"); dn != "" {
			jm.DisplayName = &dn
		}
		if av := contentField(e, "avatar_url"); av != "" {
			jm.AvatarURL = &av
		}
		out[*e.StateKey] = jm
	}
	return out, nil
}
