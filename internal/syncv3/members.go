package syncv3

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
)

// room_members sorts (p.sort).
const (
	SortByPowerLevel = "by_pl"   // power level, highest first, then by_name
	SortByName       = "by_name" // display name (the user ID without one), then user ID
)

// Member page limits: the default and the most a page holds.
const (
	DefaultMembersLimit = 20
	MaxMembersLimit     = 100
)

// roomMembers: with p.since, a page of the room's members at the snapshot (the since
// token's room position; a new session's is the position its next token names), in the
// negotiated sort; without it, the member events that changed after the since token.
func (b *build) roomMembers(ctx context.Context, pos Pos, resp *Response) error {
	p := b.sess.Params.RoomMembers
	if p == nil || p.RoomID == "" {
		return nil
	}
	var pageSince string
	if r := b.body.RoomMembers; r != nil && r.P != nil {
		pageSince = r.P.Since
	}
	if pageSince == "" {
		if b.fresh {
			return nil // no since: nothing changed after it; the client asks for pages
		}
		evs, err := b.e.Source.MemberChanges(ctx, b.sess.UserID, p.RoomID, b.from.Pos.Room, pos.Room)
		if err != nil || len(evs) == 0 {
			return err
		}
		resp.RoomMembers = &RoomMembersResponse{Events: evs}
		return nil
	}
	snapshot := b.snapshot(pos)
	offset := 0
	if pageSince != FirstPage {
		off, ok := parseCursor(pageSince, snapshot)
		if !ok || off > int64(1<<31) {
			return httputil.InvalidParam("room_members.p.since is not a page of this snapshot (keep ?since= while paginating)")
		}
		offset = int(off)
	}
	limit, sortBy := DefaultMembersLimit, SortByPowerLevel
	if p.P != nil {
		if p.P.Limit > 0 {
			limit = min(p.P.Limit, MaxMembersLimit)
		}
		if p.P.Sort == SortByName {
			sortBy = SortByName
		}
	}
	members, err := b.e.Source.Members(ctx, b.sess.UserID, p.RoomID, snapshot)
	if err != nil {
		return err
	}
	if sortBy == SortByPowerLevel {
		levels, def, err := b.e.Source.PowerLevels(ctx, p.RoomID, snapshot)
		if err != nil {
			return err
		}
		sortMembers(members, func(m *Member) int64 {
			if l, ok := levels[m.UserID]; ok {
				return l
			}
			return def
		})
	} else {
		sortMembers(members, nil)
	}
	out := &RoomMembersResponse{P: &P{Limit: limit, Sort: sortBy}, Events: []json.RawMessage{}}
	end := min(offset+limit, len(members))
	for i := min(offset, len(members)); i < end; i++ {
		out.Events = append(out.Events, members[i].Event)
	}
	if end < len(members) {
		out.P.Next = cursor(snapshot, int64(end))
	}
	resp.RoomMembers = out
	return nil
}

// parseCursor parses a page cursor "<snapshot room position>.<n>" (n: an offset, or a
// position to continue from); ok is false when it is malformed or of another snapshot.
func parseCursor(s string, snapshot int64) (n int64, ok bool) {
	a, b, found := strings.Cut(s, ".")
	if !found {
		return 0, false
	}
	at, err1 := strconv.ParseInt(a, 10, 64)
	n, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || at != snapshot || n < 0 {
		return 0, false
	}
	return n, true
}

// snapshot is the room position pages are read at: the since token's (a new session's:
// the position its next token names).
func (b *build) snapshot(pos Pos) int64 {
	if b.fresh {
		return pos.Room
	}
	return b.from.Pos.Room
}

// cursor renders a page cursor of the snapshot.
func cursor(snapshot, n int64) string {
	return strconv.FormatInt(snapshot, 10) + "." + strconv.FormatInt(n, 10)
}

// sortMembers sorts by level (highest first; nil: no levels), then display name (folded
// to lower case; the user ID when there is none), then user ID: a total order, so pages of
// one snapshot never overlap or skip.
func sortMembers(ms []Member, level func(*Member) int64) {
	name := func(m *Member) string {
		if m.DisplayName != "" {
			return strings.ToLower(m.DisplayName)
		}
		return strings.ToLower(m.UserID)
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := &ms[i], &ms[j]
		if level != nil {
			if la, lb := level(a), level(b); la != lb {
				return la > lb
			}
		}
		if na, nb := name(a), name(b); na != nb {
			return na < nb
		}
		return a.UserID < b.UserID
	})
}
