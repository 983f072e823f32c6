package internal

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/internal/syncv3"
)

// V3Source is the sync v3 engine's Source (internal/syncv3) over this instance's storage
// and Notifier: the same positions, the same read-your-writes wait and the same wake-ups
// as GET /sync (topic 2 room events, topic 3 typing and to-device messages).
type V3Source struct {
	s *Syncer
	// cache keeps the room access decisions of the room and room_members streams
	// (v3access.go).
	cache v3AccessCache
}

// V3Source returns the Syncer as a sync v3 Source.
func (s *Syncer) V3Source() *V3Source { return &V3Source{s: s} }

var _ syncv3.Source = (*V3Source)(nil)

// Position is the Notifier's room, edu and account data (topic 1) watermarks.
func (v *V3Source) Position() syncv3.Pos {
	p := v.s.notifier.Position()
	return syncv3.Pos{Room: p.Room, EDU: p.EDU, AccountData: p.AccountData}
}

// CatchUp waits for the user's own room writes (arrow 2) and topic 3 writes (arrow 18),
// as GET /sync does (readyourwrites.go).
func (v *V3Source) CatchUp(ctx context.Context, userID, _ string) error {
	return v.s.catchUpToWrites(ctx, WritesToReflect{Endpoint: "sync_v3", UserID: userID, EDUWrites: true})
}

// v3Listener adapts a Notifier Listener.
type v3Listener struct{ l *Listener }

func (l v3Listener) C() <-chan struct{} { return l.l.C }
func (l v3Listener) Close()             { l.l.Close() }

// Listen wakes on the user's news (to-device messages, membership events about them) and
// on the rooms' (events, typing, receipts).
func (v *V3Source) Listen(userID string, rooms []string) syncv3.Listener {
	l := v.s.notifier.Listen(userID)
	if len(rooms) > 0 {
		l.SetRooms(rooms)
	}
	return v3Listener{l}
}

// joinedAt reports whether the user is joined to the room at room position pos.
func (v *V3Source) joinedAt(ctx context.Context, userID, roomID string, pos int64) (bool, error) {
	ms, err := v.s.membershipsAt(ctx, userID, pos)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m.RoomID == roomID {
			return m.Membership == "join", nil
		}
	}
	return false, nil
}

// Typing is the room's m.typing EDU (the current typers, expired ones hidden) when they
// changed after since, for a user joined to the room.
func (v *V3Source) Typing(ctx context.Context, userID, roomID string, since int64, upTo syncv3.Pos) (json.RawMessage, error) {
	joined, err := v.joinedAt(ctx, userID, roomID, upTo.Room)
	if err != nil || !joined {
		return nil, err
	}
	users, changed := v.s.notifier.typingIn(roomID, since, v.s.Now().UnixMilli())
	if !changed || (since < 0 && len(users) == 0) {
		return nil, nil
	}
	if users == nil {
		users = []string{}
	}
	return json.Marshal(map[string]any{"type": "m.typing", "room_id": roomID, "content": map[string]any{"user_ids": users}})
}

// ToDevice reads the device's messages in (after, upTo].
func (v *V3Source) ToDevice(ctx context.Context, userID, deviceID string, after, upTo int64, limit int) ([]syncv3.ToDeviceMessage, error) {
	msgs, err := v.s.db.ToDeviceBetween(ctx, userID, deviceID, after, upTo, limit)
	if err != nil {
		return nil, err
	}
	out := make([]syncv3.ToDeviceMessage, 0, len(msgs))
	for _, m := range msgs {
		ev, err := json.Marshal(struct {
			Type    string          `json:"type"`
			Sender  string          `json:"sender"`
			Content json.RawMessage `json:"content"`
		}{m.Type, m.Sender, m.Content})
		if err != nil {
			return nil, err
		}
		out = append(out, syncv3.ToDeviceMessage{Pos: m.StreamPos, Event: ev})
	}
	return out, nil
}

// ToDevicePending is the Notifier's record of the device's undelivered messages.
func (v *V3Source) ToDevicePending(userID, deviceID string) (int64, bool) {
	sp, ok := v.s.notifier.toDevicePending(userID, deviceID)
	return sp.min, ok
}

// DeleteToDevice deletes the device's messages up to upTo and tells the Notifier.
func (v *V3Source) DeleteToDevice(ctx context.Context, userID, deviceID string, upTo int64) error {
	if err := v.s.db.DeleteToDevice(ctx, userID, deviceID, upTo); err != nil {
		return err
	}
	v.s.notifier.toDeviceAcked(userID, deviceID, upTo)
	return nil
}
