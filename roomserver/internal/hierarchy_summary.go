package internal

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// The room summaries of /hierarchy (hierarchy.go, hierarchy_federation.go) and who may
// see them.

// spaceChildType is the state event that links a space to a child room.
const spaceChildType = "m.space.child"

// roomTypeSpace is the m.room.create type of a space.
const roomTypeSpace = "m.space"

// summaryTypes are the state event types a summary is made of: the directory's, plus the
// encryption and the server ACL.
var summaryTypes = append(slices.Clone(directoryTypes), "m.room.encryption", "m.room.server_acl")

// spaceRoom is what /hierarchy knows of one room.
type spaceRoom struct {
	summary api.HierarchyRoom // ChildrenState: every valid m.space.child event
	// children are the valid m.space.child links, in the spec's order.
	children []spaceChild
	// acl is the room's m.room.server_acl content (rooms held here only).
	acl json.RawMessage
}

// isSpace says whether the room is a space (only spaces' children are walked).
func (r *spaceRoom) isSpace() bool { return r.summary.RoomType == roomTypeSpace }

// childrenFor returns the room's summary with children_state narrowed to suggested
// children when suggestedOnly, and the children to walk.
func (r *spaceRoom) childrenFor(suggestedOnly bool) (api.HierarchyRoom, []spaceChild) {
	sum := r.summary
	sum.ChildrenState = []json.RawMessage{}
	var kids []spaceChild
	for _, c := range r.children {
		if suggestedOnly && !c.suggested {
			continue
		}
		kids = append(kids, c)
		sum.ChildrenState = append(sum.ChildrenState, c.event)
	}
	return sum, kids
}

// spaceChild is one m.space.child link.
type spaceChild struct {
	roomID    string
	via       []string
	order     string
	suggested bool
	ts        int64
	event     json.RawMessage // stripped, with origin_server_ts
}

// parseSpaceChild reads an m.space.child event (a PDU or a stripped event with
// origin_server_ts); ok is false unless its state key is a room ID and its via a
// non-empty list of server names (a child without via is removed, per the spec).
func parseSpaceChild(raw json.RawMessage) (spaceChild, bool) {
	var e struct {
		Type     string          `json:"type"`
		StateKey *string         `json:"state_key"`
		Sender   string          `json:"sender"`
		TS       int64           `json:"origin_server_ts"`
		Content  json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Type != spaceChildType || e.StateKey == nil || !matrix.ValidRoomID(*e.StateKey) {
		return spaceChild{}, false
	}
	var c struct {
		Via       []any `json:"via"`
		Order     any   `json:"order"`
		Suggested any   `json:"suggested"`
	}
	if json.Unmarshal(e.Content, &c) != nil {
		return spaceChild{}, false
	}
	child := spaceChild{roomID: *e.StateKey, ts: e.TS}
	for _, v := range c.Via {
		if s, ok := v.(string); ok && matrix.ValidServerName(s) && !slices.Contains(child.via, s) {
			child.via = append(child.via, s)
		}
	}
	if len(child.via) == 0 {
		return spaceChild{}, false
	}
	// order: at most 50 characters of 0x20–0x7E, else ignored (spec "Ordering").
	if o, ok := c.Order.(string); ok && len(o) <= 50 && strings.IndexFunc(o, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0 {
		child.order = o
	}
	child.suggested = c.Suggested == true
	child.event = mustJSON(map[string]any{"type": e.Type, "state_key": *e.StateKey, "sender": e.Sender,
		"content": e.Content, "origin_server_ts": e.TS})
	return child, true
}

// sortChildren puts children in the spec's order: those with an order first, by order,
// then by origin_server_ts, then by room ID.
func sortChildren(kids []spaceChild) {
	sort.SliceStable(kids, func(i, j int) bool {
		a, b := kids[i], kids[j]
		if (a.order != "") != (b.order != "") {
			return a.order != ""
		}
		if a.order != b.order {
			return a.order < b.order
		}
		if a.ts != b.ts {
			return a.ts < b.ts
		}
		return a.roomID < b.roomID
	})
}

// localSpaceRoom summarises a room this server holds (its current state has an
// m.room.create); nil when it does not hold it.
func (a *RoomserverInternalAPI) localSpaceRoom(ctx context.Context, s *storage.Store, roomID string) (*spaceRoom, error) {
	states, err := s.RoomsStateByID(ctx, summaryTypes, []string{roomID})
	if err != nil || len(states) == 0 || states[0].State["m.room.create"] == nil {
		return nil, err
	}
	st := states[0]
	room, err := s.GetRoom(ctx, roomID)
	if err != nil || room == nil {
		return nil, err
	}
	pub := publicRoom(st)
	r := &spaceRoom{summary: api.HierarchyRoom{RoomID: roomID, Name: pub.Name, Topic: pub.Topic,
		CanonicalAlias: pub.CanonicalAlias, AvatarURL: pub.AvatarURL, NumJoinedMembers: pub.NumJoinedMembers,
		WorldReadable: pub.WorldReadable, GuestCanJoin: pub.GuestCanJoin, JoinRule: pub.JoinRule,
		RoomType: pub.RoomType, RoomVersion: room.RoomVersion, ChildrenState: []json.RawMessage{}}}
	var c struct {
		Content struct {
			Algorithm string `json:"algorithm"`
			Allow     []struct {
				Type   string `json:"type"`
				RoomID string `json:"room_id"`
			} `json:"allow"`
		} `json:"content"`
	}
	if json.Unmarshal(st.State["m.room.encryption"], &c) == nil {
		r.summary.Encryption = c.Content.Algorithm
	}
	if restrictedRule(r.summary.JoinRule) && json.Unmarshal(st.State["m.room.join_rules"], &c) == nil {
		for _, al := range c.Content.Allow {
			if al.Type == "m.room_membership" && matrix.ValidRoomID(al.RoomID) {
				r.summary.AllowedRoomIDs = append(r.summary.AllowedRoomIDs, al.RoomID)
			}
		}
	}
	var acl struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(st.State["m.room.server_acl"], &acl) == nil {
		r.acl = acl.Content
	}
	if r.isSpace() {
		evs, err := s.CurrentStateOfType(ctx, roomID, spaceChildType)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			if child, ok := parseSpaceChild(ev); ok {
				r.children = append(r.children, child)
			}
		}
		sortChildren(r.children)
		for _, child := range r.children {
			r.summary.ChildrenState = append(r.summary.ChildrenState, child.event)
		}
	}
	return r, nil
}

// remoteSpaceRoom reads a summary another server sent (a /hierarchy room or child);
// nil when it is not a room's, or (roomID not "") not roomID's.
func remoteSpaceRoom(raw json.RawMessage, roomID string) *spaceRoom {
	var sum api.HierarchyRoom
	if json.Unmarshal(raw, &sum) != nil || !matrix.ValidRoomID(sum.RoomID) || (roomID != "" && sum.RoomID != roomID) {
		return nil
	}
	r := &spaceRoom{summary: sum}
	if r.summary.JoinRule == "" { // the spec's default for a summary without one
		r.summary.JoinRule = auth.JoinRulePublic
	}
	r.summary.ChildrenState = []json.RawMessage{}
	r.summary.AllowedRoomIDs = slices.DeleteFunc(slices.Clone(sum.AllowedRoomIDs), func(id string) bool { return !matrix.ValidRoomID(id) })
	for _, ev := range sum.ChildrenState {
		if child, ok := parseSpaceChild(ev); ok && !slices.ContainsFunc(r.children, func(c spaceChild) bool { return c.roomID == child.roomID }) {
			r.children = append(r.children, child)
		}
	}
	sortChildren(r.children)
	for _, child := range r.children {
		r.summary.ChildrenState = append(r.summary.ChildrenState, child.event)
	}
	return r
}

// restrictedRule says whether a join rule lets members of other rooms join.
func restrictedRule(rule string) bool {
	return rule == auth.JoinRuleRestricted || rule == auth.JoinRuleKnockRestricted
}

// openToAll says whether anyone may see the room: it can be joined or knocked on by
// anyone, or its history is world readable.
func openToAll(sum *api.HierarchyRoom) bool {
	switch sum.JoinRule {
	case auth.JoinRulePublic, auth.JoinRuleKnock, auth.JoinRuleKnockRestricted:
		return true
	}
	return sum.WorldReadable
}

// userMaySee says whether a local user may peek or join the room (spec, client
// /hierarchy): joined or invited, a public or knockable room, world-readable history, or
// a restricted room with an allowed room the user is joined to.
func (a *RoomserverInternalAPI) userMaySee(ctx context.Context, s *storage.Store, r *spaceRoom, userID string) (bool, error) {
	if openToAll(&r.summary) {
		return true, nil
	}
	m, _, _, err := s.Membership(ctx, r.summary.RoomID, userID)
	if err != nil {
		return false, err
	}
	if m == auth.MembershipJoin || m == auth.MembershipInvite {
		return true, nil
	}
	if restrictedRule(r.summary.JoinRule) {
		for _, allow := range r.summary.AllowedRoomIDs {
			m, _, _, err := s.Membership(ctx, allow, userID)
			if err != nil {
				return false, err
			}
			if m == auth.MembershipJoin {
				return true, nil
			}
		}
	}
	return false, nil
}

// serverMaySee says whether another server may see a room held here (federation
// /hierarchy): the room's server ACL must allow it, and the room be open to all, or one
// of the server's users be joined or invited, or (restricted rooms) joined to an allowed
// room; that server then decides for its own user.
func (a *RoomserverInternalAPI) serverMaySee(ctx context.Context, s *storage.Store, r *spaceRoom, server string) (bool, error) {
	if len(r.acl) > 0 && !matrix.ParseServerACL(r.acl).Allowed(server) {
		return false, nil
	}
	if openToAll(&r.summary) {
		return true, nil
	}
	in, err := s.ServerHasMember(ctx, r.summary.RoomID, server, []string{auth.MembershipJoin, auth.MembershipInvite})
	if err != nil || in {
		return in, err
	}
	if restrictedRule(r.summary.JoinRule) {
		for _, allow := range r.summary.AllowedRoomIDs {
			in, err := s.ServerHasMember(ctx, allow, server, []string{auth.MembershipJoin})
			if err != nil || in {
				return in, err
			}
		}
	}
	return false, nil
}
