package syncv3proxy

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/syncv3"
)

// stored is one row of syncv3proxy_events.
type stored struct {
	pos             int64
	roomID, eventID string
	typ, stateKey   string
	event           json.RawMessage
}

// mineSQL restricts a query on room_id to the rooms the user ($1) has a membership in.
const mineSQL = ` room_id IN (SELECT room_id FROM syncv3proxy_memberships WHERE user_id = $1) `

func scanStored(rows *sql.Rows) ([]stored, error) {
	defer rows.Close()
	var out []stored
	for rows.Next() {
		var s stored
		var sk sql.NullString
		var ev string
		if err := rows.Scan(&s.pos, &s.roomID, &s.eventID, &s.typ, &sk, &ev); err != nil {
			return nil, err
		}
		s.stateKey, s.event = sk.String, json.RawMessage(ev)
		out = append(out, s)
	}
	return out, rows.Err()
}

const storedCols = `pos, room_id, event_id, type, state_key, event`

// currentState reduces state events (oldest first) to the newest per room, type and key.
func currentState(evs []stored) []stored {
	idx := map[[3]string]int{}
	var out []stored
	for _, e := range evs {
		k := [3]string{e.roomID, e.typ, e.stateKey}
		if i, ok := idx[k]; ok {
			out[i] = e
			continue
		}
		idx[k] = len(out)
		out = append(out, e)
	}
	return out
}

// stateAt is the room's state at room position at, of the types given (all when none).
func (s *Source) stateAt(ctx context.Context, roomID string, at int64, types ...string) ([]stored, error) {
	q := `SELECT ` + storedCols + ` FROM syncv3proxy_events WHERE room_id = $1 AND state_key IS NOT NULL AND pos <= $2`
	args := []any{roomID, at}
	if len(types) > 0 {
		q += ` AND type IN (` + sqlutil.Placeholders(3, len(types)) + `)`
		for _, t := range types {
			args = append(args, t)
		}
	}
	rows, err := s.st.db.Reader().QueryContext(ctx, q+` ORDER BY pos`, args...)
	if err != nil {
		return nil, err
	}
	evs, err := scanStored(rows)
	if err != nil {
		return nil, err
	}
	return currentState(evs), nil
}

// stateOfMyRooms is the state of the given types of every room of the user's at at.
func (s *Source) stateOfMyRooms(ctx context.Context, userID string, at int64, types ...string) ([]stored, error) {
	args := []any{userID, at}
	for _, t := range types {
		args = append(args, t)
	}
	rows, err := s.st.db.Reader().QueryContext(ctx, `SELECT `+storedCols+` FROM syncv3proxy_events WHERE`+mineSQL+
		`AND state_key IS NOT NULL AND pos <= $2 AND type IN (`+sqlutil.Placeholders(3, len(types))+`) ORDER BY pos`, args...)
	if err != nil {
		return nil, err
	}
	evs, err := scanStored(rows)
	if err != nil {
		return nil, err
	}
	return currentState(evs), nil
}

func contentString(ev json.RawMessage, field string) string {
	var e struct {
		Content map[string]any `json:"content"`
	}
	if json.Unmarshal(ev, &e) != nil {
		return ""
	}
	v, _ := e.Content[field].(string)
	return v
}

// Members are the room's member events at at, as the user may see them (a user who left
// sees the members at their leave).
func (s *Source) Members(ctx context.Context, userID, roomID string, at int64) ([]syncv3.Member, error) {
	upTo, _, err := s.readableUpTo(ctx, userID, roomID, at)
	if err != nil {
		return nil, err
	}
	evs, err := s.stateAt(ctx, roomID, upTo, "m.room.member")
	if err != nil {
		return nil, err
	}
	out := make([]syncv3.Member, 0, len(evs))
	for _, e := range evs {
		out = append(out, syncv3.Member{UserID: e.stateKey, DisplayName: contentString(e.event, "displayname"),
			Membership: contentString(e.event, "membership"), Event: e.event})
	}
	return out, nil
}

// PowerLevels are the room's m.room.power_levels users and users_default at at.
func (s *Source) PowerLevels(ctx context.Context, roomID string, at int64) (map[string]int64, int64, error) {
	evs, err := s.stateAt(ctx, roomID, at, "m.room.power_levels")
	if err != nil || len(evs) == 0 {
		return nil, 0, err
	}
	var pl struct {
		Content struct {
			Users        map[string]json.Number `json:"users"`
			UsersDefault json.Number            `json:"users_default"`
		} `json:"content"`
	}
	if json.Unmarshal(evs[0].event, &pl) != nil {
		return nil, 0, nil
	}
	users := make(map[string]int64, len(pl.Content.Users))
	for u, n := range pl.Content.Users {
		if v, err := n.Int64(); err == nil {
			users[u] = v
		}
	}
	def, _ := pl.Content.UsersDefault.Int64()
	return users, def, nil
}

// changesBetween are the room's state events in (after, upTo], oldest first.
func (s *Source) changesBetween(ctx context.Context, roomID string, after, upTo int64, types ...string) ([]stored, error) {
	q := `SELECT ` + storedCols + ` FROM syncv3proxy_events WHERE room_id = $1 AND state_key IS NOT NULL AND pos > $2 AND pos <= $3`
	args := []any{roomID, after, upTo}
	if len(types) > 0 {
		q += ` AND type IN (` + sqlutil.Placeholders(4, len(types)) + `)`
		for _, t := range types {
			args = append(args, t)
		}
	}
	rows, err := s.st.db.Reader().QueryContext(ctx, q+` ORDER BY pos`, args...)
	if err != nil {
		return nil, err
	}
	return scanStored(rows)
}

// MemberChanges are the member events that entered the room's state in (after, upTo], as
// far as the user may read.
func (s *Source) MemberChanges(ctx context.Context, userID, roomID string, after, upTo int64) ([]json.RawMessage, error) {
	limit, _, err := s.readableUpTo(ctx, userID, roomID, upTo)
	if err != nil {
		return nil, err
	}
	evs, err := s.changesBetween(ctx, roomID, after, limit, "m.room.member")
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		out[i] = e.event
	}
	return out, nil
}

// visibleFrom is the position before the user's first membership of the room when the
// room's history is visible to members only from their invite or join; 0 otherwise.
func (s *Source) visibleFrom(ctx context.Context, userID, roomID string, at int64) (int64, error) {
	hv, err := s.stateAt(ctx, roomID, at, "m.room.history_visibility")
	if err != nil || len(hv) == 0 {
		return 0, err
	}
	switch contentString(hv[0].event, "history_visibility") {
	case "joined", "invited":
	default:
		return 0, nil
	}
	var first sql.NullInt64
	err = s.st.db.Reader().QueryRowContext(ctx, `SELECT MIN(pos) FROM syncv3proxy_memberships WHERE user_id = $1 AND room_id = $2`,
		userID, roomID).Scan(&first)
	if err != nil || !first.Valid {
		return 0, err
	}
	return first.Int64 - 1, nil
}

// Timeline is up to limit of the newest timeline events in (after, upTo] the user may
// read: up to their leave once left, from their first membership when the room's history
// is visible to members only.
func (s *Source) Timeline(ctx context.Context, userID, roomID string, upTo, after int64, limit int) ([]syncv3.Event, int64, bool, error) {
	top, m, err := s.readableUpTo(ctx, userID, roomID, upTo)
	if err != nil {
		return nil, 0, false, err
	}
	if m == "invite" || m == "knock" {
		return nil, after, false, nil
	}
	from, err := s.visibleFrom(ctx, userID, roomID, top)
	if err != nil {
		return nil, 0, false, err
	}
	lower := max(after, from)
	token := tokenOf(ctx)
	var evs []stored
	var more bool
	for fills := 0; ; fills++ {
		rows, err := s.st.db.Reader().QueryContext(ctx, `SELECT `+storedCols+` FROM syncv3proxy_events
		WHERE room_id = $1 AND timeline = 1 AND pos > $2 AND pos <= $3 ORDER BY pos DESC LIMIT CAST($4 AS INTEGER)`, roomID, lower, top, limit+1)
		if err != nil {
			return nil, 0, false, err
		}
		if evs, err = scanStored(rows); err != nil {
			return nil, 0, false, err
		}
		more = len(evs) > limit
		if token == "" {
			break // not a client's request: no upstream reads
		}
		// A gap the page reaches (fewer than a page of events above it) is read from the
		// upstream first (gaps.go).
		g, err := s.gapIn(ctx, roomID, lower, top)
		if err != nil {
			return nil, 0, false, err
		}
		if g == nil {
			break
		}
		above := 0
		for above < len(evs) && evs[above].pos >= g.pos {
			above++
		}
		if above >= limit {
			more = true // the gap (or what is below it) holds the older events
			break
		}
		if fills == maxFillsPerPage {
			evs, more = evs[:above], true
			if above == 0 {
				return nil, g.pos - 1, true, nil // the next page continues the fill
			}
			break
		}
		if err := s.fill(ctx, token, roomID, g); err != nil {
			if ctx.Err() != nil || above == 0 {
				return nil, 0, false, err
			}
			fillLog(roomID, err)
			evs, more = evs[:above], true // served up to the gap; the next page tries again
			break
		}
	}
	if more && len(evs) > limit {
		evs = evs[:limit]
	}
	out := make([]syncv3.Event, len(evs))
	for i, e := range evs {
		out[len(evs)-1-i] = syncv3.Event{ID: e.eventID, JSON: e.event}
	}
	next := after
	if len(evs) > 0 {
		next = evs[len(evs)-1].pos - 1
	}
	return out, next, more, nil
}

// State is the room's state the filter asks for at at (no later than the user may read).
func (s *Source) State(ctx context.Context, userID, roomID string, at int64, f syncv3.StateFilter) ([]json.RawMessage, error) {
	upTo, _, err := s.readableUpTo(ctx, userID, roomID, at)
	if err != nil {
		return nil, err
	}
	evs, err := s.stateAt(ctx, roomID, upTo)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, e := range evs {
		if f.Matches(e.typ, e.stateKey) {
			out = append(out, e.event)
		}
	}
	return out, nil
}

// StateChanges are the state events the filter asks for that entered the room's state in
// (after, upTo], as far as the user may read.
func (s *Source) StateChanges(ctx context.Context, userID, roomID string, after, upTo int64, f syncv3.StateFilter) ([]syncv3.Event, error) {
	top, _, err := s.readableUpTo(ctx, userID, roomID, upTo)
	if err != nil {
		return nil, err
	}
	evs, err := s.changesBetween(ctx, roomID, after, top)
	if err != nil {
		return nil, err
	}
	var out []syncv3.Event
	for _, e := range evs {
		if f.Matches(e.typ, e.stateKey) {
			out = append(out, syncv3.Event{ID: e.eventID, JSON: e.event})
		}
	}
	return out, nil
}

// Rooms are the user's memberships at at (the newest change per room).
func (s *Source) Rooms(ctx context.Context, userID string, at int64) ([]syncv3.RoomMembership, error) {
	rows, err := s.st.db.Reader().QueryContext(ctx, `SELECT room_id, membership, pos FROM syncv3proxy_memberships
		WHERE user_id = $1 AND pos <= $2 ORDER BY pos`, userID, at)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	idx := map[string]int{}
	var out []syncv3.RoomMembership
	for rows.Next() {
		var m syncv3.RoomMembership
		if err := rows.Scan(&m.RoomID, &m.Membership, &m.Pos); err != nil {
			return nil, err
		}
		if i, ok := idx[m.RoomID]; ok {
			out[i] = m
			continue
		}
		idx[m.RoomID] = len(out)
		out = append(out, m)
	}
	return out, rows.Err()
}

// LastEventPositions is the newest timeline event position at or before at of each of
// the user's rooms, in one query.
func (s *Source) LastEventPositions(ctx context.Context, userID string, _ []string, at int64) (map[string]int64, error) {
	rows, err := s.st.db.Reader().QueryContext(ctx, `SELECT room_id, MAX(pos) FROM syncv3proxy_events WHERE`+mineSQL+
		`AND timeline = 1 AND pos <= $2 GROUP BY room_id`, userID, at)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var r string
		var p int64
		if err := rows.Scan(&r, &p); err != nil {
			return nil, err
		}
		out[r] = p
	}
	return out, rows.Err()
}

// RecentEventPositions is LastEventPositions for every room (lowest 0: the rooms left out
// have no events).
func (s *Source) RecentEventPositions(ctx context.Context, userID string, roomIDs []string, at int64, _ int) (map[string]int64, int64, error) {
	last, err := s.LastEventPositions(ctx, userID, roomIDs, at)
	return last, 0, err
}

// RoomNames are the names (else canonical aliases) of the user's rooms at at; invited
// rooms' from their stripped invite state.
func (s *Source) RoomNames(ctx context.Context, userID string, _ []string, at int64) (map[string]string, error) {
	evs, err := s.stateOfMyRooms(ctx, userID, at, "m.room.name", "m.room.canonical_alias")
	if err != nil {
		return nil, err
	}
	names, aliases := map[string]string{}, map[string]string{}
	for _, e := range evs {
		switch {
		case e.typ == "m.room.name" && e.stateKey == "":
			if n := contentString(e.event, "name"); n != "" {
				names[e.roomID] = n
			}
		case e.typ == "m.room.canonical_alias" && e.stateKey == "":
			if a := contentString(e.event, "alias"); a != "" {
				aliases[e.roomID] = a
			}
		}
	}
	inv, err := s.inviteState(ctx, userID)
	if err != nil {
		return nil, err
	}
	for roomID, st := range inv {
		for _, e := range st {
			switch e.Type {
			case "m.room.name":
				if n := contentString(e.raw, "name"); n != "" {
					names[roomID] = n
				}
			case "m.room.canonical_alias":
				if a := contentString(e.raw, "alias"); a != "" {
					aliases[roomID] = a
				}
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

type strippedEvent struct {
	Type string `json:"type"`
	raw  json.RawMessage
}

// inviteState is the stripped state of every room the user was invited to.
func (s *Source) inviteState(ctx context.Context, userID string) (map[string][]strippedEvent, error) {
	rows, err := s.st.db.Reader().QueryContext(ctx, `SELECT room_id, state FROM syncv3proxy_invite_state WHERE user_id = $1`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]strippedEvent{}
	for rows.Next() {
		var r, st string
		if err := rows.Scan(&r, &st); err != nil {
			return nil, err
		}
		var raws []json.RawMessage
		if json.Unmarshal([]byte(st), &raws) != nil {
			continue
		}
		for _, raw := range raws {
			var e strippedEvent
			if json.Unmarshal(raw, &e) == nil {
				e.raw = raw
				out[r] = append(out[r], e)
			}
		}
	}
	return out, rows.Err()
}

// RoomsWithEvents are those of the rooms with timeline events in (after, upTo].
func (s *Source) RoomsWithEvents(ctx context.Context, roomIDs []string, after, upTo int64) (map[string]bool, error) {
	out := map[string]bool{}
	for len(roomIDs) > 0 {
		chunk := roomIDs[:min(len(roomIDs), 500)]
		roomIDs = roomIDs[len(chunk):]
		args := []any{after, upTo}
		for _, r := range chunk {
			args = append(args, r)
		}
		rows, err := s.st.db.Reader().QueryContext(ctx, `SELECT DISTINCT room_id FROM syncv3proxy_events WHERE timeline = 1 AND pos > $1 AND pos <= $2
			AND room_id IN (`+sqlutil.Placeholders(3, len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				rows.Close()
				return nil, err
			}
			out[r] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// accountData is the content of the user's account data of a type (room "" global).
func (s *Source) accountData(ctx context.Context, userID, roomID, typ string) (json.RawMessage, error) {
	var c string
	err := s.st.db.Reader().QueryRowContext(ctx, `SELECT content FROM syncv3proxy_account_data WHERE user_id = $1 AND room_id = $2 AND type = $3`,
		userID, roomID, typ).Scan(&c)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	return json.RawMessage(c), err
}

var _ syncv3.AccountDataRooms = (*Source)(nil)

// AccountDataRooms are the rooms whose m.tag of the user changed at account data positions
// in (after, upTo], and the rooms of the user's m.direct when it changed there.
func (s *Source) AccountDataRooms(ctx context.Context, userID string, after, upTo int64) (map[string]bool, error) {
	rows, err := s.st.db.Reader().QueryContext(ctx, `SELECT room_id, type, content FROM syncv3proxy_account_data
		WHERE user_id = $1 AND pos > $2 AND pos <= $3 AND (type = 'm.tag' OR (type = 'm.direct' AND room_id = ''))`, userID, after, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var roomID, typ, content string
		if err := rows.Scan(&roomID, &typ, &content); err != nil {
			return nil, err
		}
		if typ == "m.tag" {
			out[roomID] = true
			continue
		}
		var direct map[string][]string
		_ = json.Unmarshal([]byte(content), &direct)
		for _, rooms := range direct {
			for _, r := range rooms {
				out[r] = true
			}
		}
	}
	return out, rows.Err()
}

// directRooms reports the rooms listed in the user's m.direct.
func (s *Source) directRooms(ctx context.Context, userID string) (map[string]bool, error) {
	raw, err := s.accountData(ctx, userID, "", "m.direct")
	if err != nil || raw == nil {
		return nil, err
	}
	var direct map[string][]string
	_ = json.Unmarshal(raw, &direct)
	out := map[string]bool{}
	for _, rooms := range direct {
		for _, r := range rooms {
			out[r] = true
		}
	}
	return out, nil
}

// memberCounts are the joined and invited members of the room at at.
func (s *Source) memberCounts(ctx context.Context, roomID string, at int64) (int, int, error) {
	evs, err := s.stateAt(ctx, roomID, at, "m.room.member")
	if err != nil {
		return 0, 0, err
	}
	var j, inv int
	for _, e := range evs {
		switch contentString(e.event, "membership") {
		case "join":
			j++
		case "invite":
			inv++
		}
	}
	return j, inv, nil
}

// RoomFields fills the asked-for fields of a page of the user's rooms at at.
func (s *Source) RoomFields(ctx context.Context, userID string, rooms []syncv3.RoomMembership, at int64, fields []string) ([]syncv3.RoomInfo, error) {
	out := make([]syncv3.RoomInfo, len(rooms))
	want := map[string]bool{}
	for _, f := range fields {
		want[f] = true
	}
	var names map[string]string
	var avatars map[string]string
	var last map[string]int64
	var direct map[string]bool
	var err error
	if want[syncv3.FieldName] {
		if names, err = s.RoomNames(ctx, userID, nil, at); err != nil {
			return nil, err
		}
	}
	if want[syncv3.FieldAvatar] {
		evs, err := s.stateOfMyRooms(ctx, userID, at, "m.room.avatar")
		if err != nil {
			return nil, err
		}
		avatars = map[string]string{}
		for _, e := range evs {
			if u := contentString(e.event, "url"); u != "" && e.stateKey == "" {
				avatars[e.roomID] = u
			}
		}
	}
	if want[syncv3.FieldLastEvent] {
		if last, err = s.LastEventPositions(ctx, userID, nil, at); err != nil {
			return nil, err
		}
	}
	if want[syncv3.FieldIsDM] {
		if direct, err = s.directRooms(ctx, userID); err != nil {
			return nil, err
		}
	}
	for i, r := range rooms {
		info := syncv3.RoomInfo{RoomID: r.RoomID, Membership: r.Membership}
		if n, ok := names[r.RoomID]; ok {
			info.Name = &n
		}
		if a, ok := avatars[r.RoomID]; ok {
			info.Avatar = &a
		}
		if want[syncv3.FieldMemberCount] {
			j, inv, err := s.memberCounts(ctx, r.RoomID, at)
			if err != nil {
				return nil, err
			}
			info.JoinedCount, info.InvitedCount = &j, &inv
		}
		if p, ok := last[r.RoomID]; ok && r.Membership == "join" {
			var ev string
			if err := s.st.db.Reader().QueryRowContext(ctx, `SELECT event FROM syncv3proxy_events WHERE pos = $1`, p).Scan(&ev); err != nil {
				return nil, err
			}
			info.LastEvent = json.RawMessage(ev)
		}
		if want[syncv3.FieldTags] {
			raw, err := s.accountData(ctx, userID, r.RoomID, "m.tag")
			if err != nil {
				return nil, err
			}
			var tag struct {
				Tags json.RawMessage `json:"tags"`
			}
			if raw != nil && json.Unmarshal(raw, &tag) == nil && len(tag.Tags) > 0 && !strings.EqualFold(string(tag.Tags), "null") {
				info.Tags = tag.Tags
			}
		}
		if want[syncv3.FieldIsDM] {
			dm := direct[r.RoomID]
			info.IsDM = &dm
		}
		out[i] = info
	}
	if want[syncv3.FieldNotificationCount] || want[syncv3.FieldHighlightCount] {
		if err := s.fillUnreadCounts(ctx, userID, out, want[syncv3.FieldNotificationCount], want[syncv3.FieldHighlightCount]); err != nil { // unread.go
			return nil, err
		}
	}
	return out, nil
}
