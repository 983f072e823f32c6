package internal

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/axon-matrix/axon/internal/syncv3"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// Sync v3's room_list over this instance's storage: the user's memberships come from the
// membership cache, everything else from bulk queries (storage/v3rooms.go), so a page of a
// user in thousands of rooms costs a handful of queries plus the member counts of the
// page's rooms.

// Rooms are the user's memberships at room position at.
func (v *V3Source) Rooms(ctx context.Context, userID string, at int64) ([]syncv3.RoomMembership, error) {
	ms, err := v.s.membershipsAt(ctx, userID, at)
	if err != nil {
		return nil, err
	}
	out := make([]syncv3.RoomMembership, len(ms))
	for i, m := range ms {
		out[i] = syncv3.RoomMembership{RoomID: m.RoomID, Membership: m.Membership, Pos: m.Pos}
	}
	return out, nil
}

// manyRooms: from this many rooms on, bulk reads go through the user's memberships (one
// query) rather than lists of room IDs.
const manyRooms = 200

// LastEventPositions reads each room's newest event position at or before at.
func (v *V3Source) LastEventPositions(ctx context.Context, userID string, roomIDs []string, at int64) (map[string]int64, error) {
	if len(roomIDs) < manyRooms {
		return v.s.db.LastEventPositions(ctx, roomIDs, at)
	}
	return v.s.db.UserRoomsLastEventPositions(ctx, userID, at)
}

// RecentEventPositions reads the newest events of the whole server backwards from at
// (at most a few thousand rows, by position) and keeps the first of each of the rooms;
// when that finds too few, the caller reads every room's (LastEventPositions).
func (v *V3Source) RecentEventPositions(ctx context.Context, userID string, roomIDs []string, at int64, need int) (map[string]int64, int64, error) {
	if len(roomIDs) < manyRooms {
		last, err := v.s.db.LastEventPositions(ctx, roomIDs, at)
		return last, 0, err
	}
	limit := max(2000, 8*need)
	rows, err := v.s.db.NewestEvents(ctx, at, limit)
	if err != nil {
		return nil, 0, err
	}
	mine := make(map[string]bool, len(roomIDs))
	for _, r := range roomIDs {
		mine[r] = true
	}
	last := map[string]int64{}
	for _, e := range rows {
		if _, seen := last[e.RoomID]; !seen && mine[e.RoomID] {
			last[e.RoomID] = e.Pos
		}
	}
	if len(rows) < limit {
		return last, 0, nil // every event up to at was read
	}
	return last, rows[len(rows)-1].Pos - 1, nil
}

// maxDeltaWindow: windows up to this many positions are read by position; longer ones by
// room.
const maxDeltaWindow = 20000

// RoomsWithEvents are the rooms with events in (after, upTo].
func (v *V3Source) RoomsWithEvents(ctx context.Context, roomIDs []string, after, upTo int64) (map[string]bool, error) {
	if upTo-after > maxDeltaWindow || len(roomIDs) < manyRooms/10 {
		out := map[string]bool{}
		err := chunked(roomIDs, func(ids []string) error {
			m, err := v.s.db.RoomsWithEvents(ctx, ids, after, upTo)
			for r := range m {
				out[r] = true
			}
			return err
		})
		return out, err
	}
	all, err := v.s.db.RoomsWithEventsBetween(ctx, after, upTo)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range roomIDs {
		if all[r] {
			out[r] = true
		}
	}
	return out, nil
}

// chunked calls fn with ids in slices of at most 100.
func chunked(ids []string, fn func([]string) error) error {
	for len(ids) > 0 {
		n := min(len(ids), 100)
		if err := fn(ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// RoomNames: m.room.name, else m.room.canonical_alias, at at.
func (v *V3Source) RoomNames(ctx context.Context, userID string, roomIDs []string, at int64) (map[string]string, error) {
	types := []string{"m.room.name", "m.room.canonical_alias"}
	var evs []storage.Event
	var err error
	if len(roomIDs) < manyRooms {
		evs, err = v.s.db.StateOfRooms(ctx, roomIDs, types, at)
	} else {
		evs, err = v.s.db.UserRoomsState(ctx, userID, types, at)
	}
	if err != nil {
		return nil, err
	}
	names, aliases := map[string]string{}, map[string]string{}
	for i := range evs {
		e := &evs[i]
		switch e.Type {
		case "m.room.name":
			if n := contentField(e, "name"); n != "" {
				names[e.RoomID] = n
			}
		case "m.room.canonical_alias":
			if a := contentField(e, "alias"); a != "" {
				aliases[e.RoomID] = a
			}
		}
	}
	for r, a := range aliases {
		if _, ok := names[r]; !ok {
			names[r] = a
		}
	}
	return names, nil
}

var _ syncv3.AccountDataRooms = (*V3Source)(nil)

// AccountDataRooms: the rooms whose m.tag changed in the account data window (after,
// upTo] (topic 1 positions), and the rooms of the new m.direct when it changed. Storage
// keeps only the newest value of m.direct, so a room taken out of it is not among them.
func (v *V3Source) AccountDataRooms(ctx context.Context, userID string, after, upTo int64) (map[string]bool, error) {
	items, err := v.s.db.AccountDataBetween(ctx, userID, after, upTo)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, a := range items {
		switch {
		case a.Type == "m.tag" && a.RoomID != "":
			out[a.RoomID] = true
		case a.Type == "m.direct" && a.RoomID == "":
			for r := range directRooms(a.Content) {
				out[r] = true
			}
		}
	}
	return out, nil
}

// directRooms are the rooms of an m.direct content (user ID → room IDs).
func directRooms(raw []byte) map[string]bool {
	dm := map[string]bool{}
	var byUser map[string][]string
	if len(raw) > 0 && json.Unmarshal(raw, &byUser) == nil {
		for _, rs := range byUser {
			for _, r := range rs {
				dm[r] = true
			}
		}
	}
	return dm
}

// RoomFields fills the asked-for fields of the rooms at at.
func (v *V3Source) RoomFields(ctx context.Context, userID string, rooms []syncv3.RoomMembership, at int64, fields []string) ([]syncv3.RoomInfo, error) {
	out := make([]syncv3.RoomInfo, len(rooms))
	ids := make([]string, len(rooms))
	var joined []string
	for i, r := range rooms {
		out[i] = syncv3.RoomInfo{RoomID: r.RoomID, Membership: r.Membership}
		ids[i] = r.RoomID
		if r.Membership == "join" {
			joined = append(joined, r.RoomID)
		}
	}
	if len(rooms) == 0 {
		return out, nil
	}
	want := func(f string) bool { return slices.Contains(fields, f) }
	if want(syncv3.FieldName) {
		names, err := v.RoomNames(ctx, userID, ids, at)
		if err != nil {
			return nil, err
		}
		for i := range out {
			if n, ok := names[out[i].RoomID]; ok {
				out[i].Name = &n
			}
		}
	}
	if want(syncv3.FieldAvatar) {
		evs, err := v.s.db.StateOfRooms(ctx, ids, []string{"m.room.avatar"}, at)
		if err != nil {
			return nil, err
		}
		urls := map[string]string{}
		for i := range evs {
			if u := contentField(&evs[i], "url"); u != "" {
				urls[evs[i].RoomID] = u
			}
		}
		for i := range out {
			if u, ok := urls[out[i].RoomID]; ok {
				out[i].Avatar = &u
			}
		}
	}
	if want(syncv3.FieldMemberCount) {
		for i := range out { // the page's rooms only
			j, inv, err := v.s.db.MemberCounts(ctx, out[i].RoomID, at)
			if err != nil {
				return nil, err
			}
			out[i].JoinedCount, out[i].InvitedCount = &j, &inv
		}
	}
	if want(syncv3.FieldLastEvent) && len(joined) > 0 {
		// Joined at at, the user was joined at every event since their join, so the newest
		// event is visible under any history visibility; an ignored sender's is left out.
		last, err := v.LastEventPositions(ctx, userID, joined, at)
		if err != nil {
			return nil, err
		}
		positions := make([]int64, 0, len(last))
		for _, p := range last {
			positions = append(positions, p)
		}
		evs, err := v.s.db.EventsAtPositions(ctx, positions)
		if err != nil {
			return nil, err
		}
		ignored := v.s.notifier.IgnoredBy(userID)
		fo := FormatOptions{IncludeRoomID: true, UserID: userID, Now: v.s.Now()}
		byRoom := map[string]json.RawMessage{}
		for i := range evs {
			if !ignored.hides(&evs[i]) {
				byRoom[evs[i].RoomID] = ClientEvent(&evs[i], fo)
			}
		}
		for i := range out {
			out[i].LastEvent = byRoom[out[i].RoomID]
		}
	}
	if want(syncv3.FieldTags) {
		tags, err := v.s.db.AccountDataOfType(ctx, userID, "m.tag")
		if err != nil {
			return nil, err
		}
		for i := range out {
			var c struct {
				Tags json.RawMessage `json:"tags"`
			}
			var m map[string]json.RawMessage
			// No tags (none stored, or all removed: `{}`) leave the field out.
			if raw, ok := tags[out[i].RoomID]; ok && json.Unmarshal(raw, &c) == nil &&
				json.Unmarshal(c.Tags, &m) == nil && len(m) > 0 {
				out[i].Tags = c.Tags
			}
		}
	}
	if want(syncv3.FieldIsDM) {
		direct, err := v.s.db.AccountDataOfType(ctx, userID, "m.direct")
		if err != nil {
			return nil, err
		}
		dm := directRooms(direct[""])
		for i := range out {
			is := dm[out[i].RoomID]
			out[i].IsDM = &is
		}
	}
	if want(syncv3.FieldNotificationCount) || want(syncv3.FieldHighlightCount) {
		if err := v.fillUnreadCounts(ctx, userID, out, at, fields); err != nil { // unreadv3.go
			return nil, err
		}
	}
	return out, nil
}
