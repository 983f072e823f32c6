package syncv3

import (
	"context"
	"encoding/json"
	"time"
)

// build is one request being answered.
type build struct {
	e     *Engine
	sess  *Session
	from  Token   // the since token (only the session ID for a new session)
	fresh bool    // a new session: no since
	prev  Request // the sticky parameters before this request
	body  *Request
	// sent is the to-device position the response's token claims.
	sent int64
}

// rooms are the rooms whose news wakes this session's long-poll.
func (b *build) rooms() []string {
	var out []string
	p := &b.sess.Params
	if p.Typing != nil && p.Typing.RoomID != "" {
		out = append(out, p.Typing.RoomID)
	}
	if p.RoomMembers != nil && p.RoomMembers.RoomID != "" {
		out = append(out, p.RoomMembers.RoomID)
	}
	if p.Room != nil && p.Room.RoomID != "" {
		out = append(out, p.Room.RoomID)
	}
	return out
}

// paginating reports whether the request reads a page of a snapshot (it never waits).
func (b *build) paginating() bool {
	return (b.body.RoomMembers != nil && b.body.RoomMembers.P != nil && b.body.RoomMembers.P.Since != "") ||
		(b.body.Room != nil && b.body.Room.P != nil && b.body.Room.P.Since != "") ||
		(b.body.RoomList != nil && b.body.RoomList.P != nil && b.body.RoomList.P.Since != "")
}

// longPoll answers at once when there is something (or for a new session, a page, or no
// timeout); otherwise it waits for news on a stream the session asked for, the timeout,
// shutdown or the client's end. An answer with nothing keeps the since token as next.
func (b *build) longPoll(ctx context.Context, timeout time.Duration) (*Response, error) {
	src := b.e.Source
	rooms := b.rooms()
	if b.sess.Params.RoomList != nil {
		// room_list: news in any of the user's rooms (a new room: their membership event).
		mine, err := src.Rooms(ctx, b.sess.UserID, src.Position().Room)
		if err != nil {
			return nil, err
		}
		for _, r := range mine {
			rooms = append(rooms, r.RoomID)
		}
	}
	l := src.Listen(b.sess.UserID, rooms)
	defer l.Close()
	var deadline <-chan time.Time
	if timeout > 0 && !b.fresh && !b.paginating() {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		pos := src.Position()
		resp, err := b.respond(ctx, pos)
		if err != nil {
			return nil, err
		}
		if b.fresh || !resp.isEmpty() || deadline == nil {
			return resp, nil
		}
		select {
		case <-l.C():
			continue
		case <-deadline:
			return resp, nil
		case <-b.e.draining:
			return resp, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// respond builds the answer at pos. An answer with nothing for the client keeps the since
// token (the same window is looked at again, at no cost but the memory checks).
func (b *build) respond(ctx context.Context, pos Pos) (*Response, error) {
	resp := &Response{}
	toDevice := b.from.ToDevice
	if err := b.typing(ctx, pos, resp); err != nil {
		return nil, err
	}
	if b.sess.Params.ToDevice != nil {
		var err error
		if toDevice, err = b.toDevice(ctx, pos, resp); err != nil {
			return nil, err
		}
	}
	if err := b.roomMembers(ctx, pos, resp); err != nil {
		return nil, err
	}
	if err := b.room(ctx, pos, resp); err != nil {
		return nil, err
	}
	if err := b.roomList(ctx, pos, resp); err != nil {
		return nil, err
	}
	if resp.isEmpty() && !b.fresh {
		resp.Next = b.from.String()
		return resp, nil
	}
	b.sent = toDevice
	resp.Next = Token{Session: b.sess.ID, Pos: pos, ToDevice: toDevice}.String()
	return resp, nil
}

// typing: the room's m.typing EDU when its typers changed after the since token (a new
// session, or a room_id other than the last request's, gets the current typers).
func (b *build) typing(ctx context.Context, pos Pos, resp *Response) error {
	p := b.sess.Params.Typing
	if p == nil || p.RoomID == "" {
		return nil
	}
	since := b.from.Pos.EDU
	if b.fresh || b.prev.Typing == nil || b.prev.Typing.RoomID != p.RoomID {
		since = -1
	}
	ev, err := b.e.Source.Typing(ctx, b.sess.UserID, p.RoomID, since, pos)
	if err != nil || ev == nil {
		return err
	}
	resp.Typing = &EventsResponse{Events: []json.RawMessage{ev}}
	return nil
}

// MaxToDeviceLimit caps to_device.limit (the negotiated limit is at most this; it is also
// the default).
const MaxToDeviceLimit = 100

// toDevice: the device's messages after the since token's to-device position, at most the
// negotiated limit; it returns the to-device position the next token claims.
func (b *build) toDevice(ctx context.Context, pos Pos, resp *Response) (int64, error) {
	limit := b.sess.Params.ToDevice.Limit
	if limit <= 0 || limit > MaxToDeviceLimit {
		limit = MaxToDeviceLimit
	}
	after := b.from.ToDevice
	if _, ok := b.e.Source.ToDevicePending(b.sess.UserID, b.sess.DeviceID); !ok {
		return max(after, pos.EDU), nil
	}
	msgs, err := b.e.Source.ToDevice(ctx, b.sess.UserID, b.sess.DeviceID, after, pos.EDU, limit)
	if err != nil {
		return 0, err
	}
	if len(msgs) == 0 {
		return max(after, pos.EDU), nil
	}
	r := &ToDeviceResponse{Limit: limit, Events: make([]json.RawMessage, len(msgs))}
	for i, m := range msgs {
		r.Events[i] = m.Event
	}
	resp.ToDevice = r
	if len(msgs) == limit {
		return msgs[len(msgs)-1].Pos, nil // more may wait: the next request gets them at once
	}
	return max(after, pos.EDU), nil
}
