package syncv3

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
)

// room_list sorts and limits.
const (
	SortByRecency        = "by_recency" // newest event first (an invite: the invite's position)
	DefaultRoomListLimit = 20
	MaxRoomListLimit     = 100
)

// room_list fields (RoomListRequest.Fields).
const (
	FieldName        = "name"         // m.room.name, else the canonical alias (else absent)
	FieldAvatar      = "avatar"       // m.room.avatar's url
	FieldMemberCount = "member_count" // joined_count and invited_count
	FieldLastEvent   = "last_event"   // the newest event the user may see (joined rooms)
	FieldTags        = "tags"         // the user's m.tag account data of the room
	FieldIsDM        = "is_dm"        // the room is in the user's m.direct account data
	// FieldNotificationCount and FieldHighlightCount are the unread notification counts
	// (a Source that is an UnreadCounter; unread.go).
	FieldNotificationCount = "notification_count"
	FieldHighlightCount    = "highlight_count"
)

// servedFields are the fields Axon serves, in the order a response lists them; other
// asked-for fields are negotiated away (the counts too when the Source does not count:
// countFields).
var servedFields = []string{FieldName, FieldAvatar, FieldMemberCount, FieldLastEvent, FieldTags, FieldIsDM,
	FieldNotificationCount, FieldHighlightCount}

// AccountDataRooms is implemented by a Source that can tell which of the user's rooms the
// room_list fields read from account data (tags, is_dm) changed for; a Source without it
// (0 account data positions) gives no deltas for those changes.
type AccountDataRooms interface {
	// AccountDataRooms returns the rooms whose m.tag account data of the user changed at
	// account data positions in (after, upTo], and, when the user's m.direct changed in
	// that window, the rooms of its new value.
	AccountDataRooms(ctx context.Context, userID string, after, upTo int64) (map[string]bool, error)
}

// RoomListRequest are the room_list stream's parameters.
type RoomListRequest struct {
	P *P `json:"p,omitempty"`
	// Fields are the room fields wanted (default: every served field).
	Fields []string `json:"fields,omitempty"`
}

// RoomListResponse is the room_list stream's answer: a page of the user's rooms at the
// snapshot (P set) or the rooms that changed after `?since=`; Fields are the fields served.
type RoomListResponse struct {
	P      *P         `json:"p,omitempty"`
	Fields []string   `json:"fields"`
	Rooms  []RoomInfo `json:"rooms"`
}

// RoomInfo is one room of the room list, with the fields asked for.
type RoomInfo struct {
	RoomID       string          `json:"room_id"`
	Membership   string          `json:"membership"`
	Name         *string         `json:"name,omitempty"`
	Avatar       *string         `json:"avatar,omitempty"`
	JoinedCount  *int            `json:"joined_count,omitempty"`
	InvitedCount *int            `json:"invited_count,omitempty"`
	LastEvent    json.RawMessage `json:"last_event,omitempty"`
	Tags         json.RawMessage `json:"tags,omitempty"`
	IsDM         *bool           `json:"is_dm,omitempty"`
	// NotificationCount and HighlightCount: joined rooms only.
	NotificationCount *int `json:"notification_count,omitempty"`
	HighlightCount    *int `json:"highlight_count,omitempty"`
}

// negotiateFields keeps the asked-for fields Axon serves (all of them when none asked).
func negotiateFields(asked []string) []string {
	if len(asked) == 0 {
		return servedFields
	}
	out := []string{}
	for _, f := range servedFields {
		if slices.Contains(asked, f) {
			out = append(out, f)
		}
	}
	return out
}

// listed reports whether a membership puts a room in the room list.
func listed(m string) bool { return m == "join" || m == "invite" }

// roomList: with p.since, a page of the user's joined and invited rooms at the snapshot in
// the negotiated sort; without it, the rooms that changed after the since token (new
// events, the user's membership changed: a room gone from the list comes with its new
// membership and no fields), newest first.
func (b *build) roomList(ctx context.Context, pos Pos, resp *Response) error {
	p := b.sess.Params.RoomList
	if p == nil {
		return nil
	}
	src, user := b.e.Source, b.sess.UserID
	fields := countFields(negotiateFields(p.Fields), src)
	var pageSince string
	if r := b.body.RoomList; r != nil && r.P != nil {
		pageSince = r.P.Since
	}
	if pageSince == "" {
		if b.fresh || (pos.Room <= b.from.Pos.Room && pos.AccountData <= b.from.Pos.AccountData && !b.receiptsMoved(pos, fields)) {
			return nil
		}
		return b.roomListDelta(ctx, pos, fields, resp)
	}
	snapshot := b.snapshot(pos)
	offset := 0
	if pageSince != FirstPage {
		off, ok := parseCursor(pageSince, snapshot)
		if !ok || off > int64(1<<31) {
			return httputil.InvalidParam("room_list.p.since is not a page of this snapshot (keep ?since= while paginating)")
		}
		offset = int(off)
	}
	limit, sortBy := DefaultRoomListLimit, SortByRecency
	if p.P != nil {
		if p.P.Limit > 0 {
			limit = min(p.P.Limit, MaxRoomListLimit)
		}
		if p.P.Sort == SortByName {
			sortBy = SortByName
		}
	}
	all, err := src.Rooms(ctx, user, snapshot)
	if err != nil {
		return err
	}
	rooms := make([]RoomMembership, 0, len(all))
	ids := make([]string, 0, len(all))
	for _, r := range all {
		if listed(r.Membership) {
			rooms = append(rooms, r)
			ids = append(ids, r.RoomID)
		}
	}
	if err := b.sortRooms(ctx, rooms, ids, snapshot, sortBy, offset+limit); err != nil {
		return err
	}
	end := min(offset+limit, len(rooms))
	page := rooms[min(offset, len(rooms)):end]
	infos, err := src.RoomFields(ctx, user, page, snapshot, fields)
	if err != nil {
		return err
	}
	out := &RoomListResponse{P: &P{Limit: limit, Sort: sortBy}, Fields: fields, Rooms: infos}
	if out.Rooms == nil {
		out.Rooms = []RoomInfo{}
	}
	if end < len(rooms) {
		out.P.Next = cursor(snapshot, int64(end))
	}
	resp.RoomList = out
	return nil
}

// sortRooms orders rooms (ids: their IDs) by sortBy at the snapshot, room ID breaking
// ties; by recency, only the first need rooms are sure to be in order (the rest follow).
func (b *build) sortRooms(ctx context.Context, rooms []RoomMembership, ids []string, at int64, sortBy string, need int) error {
	src := b.e.Source
	if sortBy == SortByName {
		names, err := src.RoomNames(ctx, b.sess.UserID, ids, at)
		if err != nil {
			return err
		}
		key := func(r *RoomMembership) string {
			if n := names[r.RoomID]; n != "" {
				return "0" + strings.ToLower(n)
			}
			return "1" // nameless rooms after the named ones
		}
		sort.SliceStable(rooms, func(i, j int) bool {
			ki, kj := key(&rooms[i]), key(&rooms[j])
			if ki != kj {
				return ki < kj
			}
			return rooms[i].RoomID < rooms[j].RoomID
		})
		return nil
	}
	last, lowest, err := src.RecentEventPositions(ctx, b.sess.UserID, ids, at, need)
	if err != nil {
		return err
	}
	// A room's recency is exact when its newest event is known, or when its membership
	// event is newer than lowest (its other events are at most lowest); every exact recency
	// is above every unknown one, so the exact rooms come first in the right order.
	recency := func(r *RoomMembership) (int64, bool) {
		if p, ok := last[r.RoomID]; ok {
			return max(p, r.Pos), true
		}
		return r.Pos, r.Pos > lowest || lowest == 0
	}
	exact := 0
	for i := range rooms {
		if _, ok := recency(&rooms[i]); ok {
			exact++
		}
	}
	if exact < min(need, len(rooms)) {
		if last, err = src.LastEventPositions(ctx, b.sess.UserID, ids, at); err != nil {
			return err
		}
		lowest = 0
	}
	sort.SliceStable(rooms, func(i, j int) bool {
		ri, oki := recency(&rooms[i])
		rj, okj := recency(&rooms[j])
		if oki != okj {
			return oki
		}
		if ri != rj {
			return ri > rj
		}
		return rooms[i].RoomID < rooms[j].RoomID
	})
	return nil
}

// roomListDelta: the rooms whose fields or the user's membership changed in
// (since, pos] (for tags and is_dm: the account data window), newest first.
func (b *build) roomListDelta(ctx context.Context, pos Pos, fields []string, resp *Response) error {
	src, user := b.e.Source, b.sess.UserID
	then, err := src.Rooms(ctx, user, b.from.Pos.Room)
	if err != nil {
		return err
	}
	now, err := src.Rooms(ctx, user, pos.Room)
	if err != nil {
		return err
	}
	before := make(map[string]string, len(then))
	for _, r := range then {
		before[r.RoomID] = r.Membership
	}
	var listedNow []string
	changed := map[string]bool{}
	var gone []RoomInfo
	for _, r := range now {
		was, had := before[r.RoomID]
		if listed(r.Membership) {
			listedNow = append(listedNow, r.RoomID)
			if !had || was != r.Membership {
				changed[r.RoomID] = true
			}
		} else if had && listed(was) {
			gone = append(gone, RoomInfo{RoomID: r.RoomID, Membership: r.Membership})
		}
	}
	withEvents := map[string]bool{}
	if pos.Room > b.from.Pos.Room {
		if withEvents, err = src.RoomsWithEvents(ctx, listedNow, b.from.Pos.Room, pos.Room); err != nil {
			return err
		}
	}
	if ad, ok := src.(AccountDataRooms); ok && pos.AccountData > b.from.Pos.AccountData &&
		(slices.Contains(fields, FieldTags) || slices.Contains(fields, FieldIsDM)) {
		rooms, err := ad.AccountDataRooms(ctx, user, b.from.Pos.AccountData, pos.AccountData)
		if err != nil {
			return err
		}
		for r := range rooms {
			changed[r] = true // only listed rooms are looked up in changed
		}
	}
	if err := b.receiptRooms(ctx, pos, fields, listedNow, changed); err != nil { // unread.go
		return err
	}
	var rooms []RoomMembership
	var ids []string
	for _, r := range now {
		if listed(r.Membership) && (changed[r.RoomID] || withEvents[r.RoomID]) {
			rooms = append(rooms, r)
			ids = append(ids, r.RoomID)
		}
	}
	if len(rooms) == 0 && len(gone) == 0 {
		return nil
	}
	if err := b.sortRooms(ctx, rooms, ids, pos.Room, SortByRecency, len(rooms)); err != nil {
		return err
	}
	infos, err := src.RoomFields(ctx, user, rooms, pos.Room, fields)
	if err != nil {
		return err
	}
	resp.RoomList = &RoomListResponse{Fields: fields, Rooms: append(infos, gone...)}
	return nil
}
