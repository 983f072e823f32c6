package internal

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/internal/syncv3"
)

// Members are the room's m.room.member state events at room position at, no later than
// what the user may read (access: the current position while joined or when the room is
// world readable, the leave for a user who left; M_FORBIDDEN otherwise, as /members).
func (v *V3Source) Members(ctx context.Context, userID, roomID string, at int64) ([]syncv3.Member, error) {
	acc, err := v.access(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	evs, err := v.s.db.StateAt(ctx, roomID, min(at, acc.upTo), "m.room.member")
	if err != nil {
		return nil, err
	}
	fo := FormatOptions{IncludeRoomID: true, UserID: userID, Now: v.s.Now()}
	out := make([]syncv3.Member, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		if e.StateKey == nil {
			continue
		}
		out = append(out, syncv3.Member{UserID: *e.StateKey, DisplayName: contentField(e, "displayname"),
			Membership: e.Membership, Event: ClientEvent(e, fo)})
	}
	return out, nil
}

// PowerLevels reads m.room.power_levels at room position at: users and users_default.
// Without the event, the room's creator would be 100 (spec); the creator is not known
// here, so everyone is 0.
func (v *V3Source) PowerLevels(ctx context.Context, roomID string, at int64) (map[string]int64, int64, error) {
	e, err := v.s.db.StateEventAt(ctx, roomID, "m.room.power_levels", "", at)
	if err != nil || e == nil {
		return nil, 0, err
	}
	var fed struct {
		Content struct {
			Users        map[string]json.Number `json:"users"`
			UsersDefault json.Number            `json:"users_default"`
		} `json:"content"`
	}
	if err := json.Unmarshal(e.JSON, &fed); err != nil {
		return nil, 0, nil // an unreadable event sorts everyone alike
	}
	out := make(map[string]int64, len(fed.Content.Users))
	for u, n := range fed.Content.Users {
		if l, err := n.Int64(); err == nil {
			out[u] = l
		}
	}
	def, _ := fed.Content.UsersDefault.Int64()
	return out, def, nil
}

// MemberChanges are the member events that entered the room's state in (after, upTo],
// oldest first, up to what the user may read.
func (v *V3Source) MemberChanges(ctx context.Context, userID, roomID string, after, upTo int64) ([]json.RawMessage, error) {
	evs, err := v.stateChanges(ctx, userID, roomID, after, upTo, func(typ, _ string) bool { return typ == "m.room.member" })
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	out := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		out[i] = e.JSON
	}
	return out, nil
}
