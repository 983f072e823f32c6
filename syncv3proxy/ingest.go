package syncv3proxy

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// syncResponse is the part of the upstream's spec /sync answer the streams need.
type syncResponse struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join   map[string]joinedRoom `json:"join"`
		Invite map[string]struct {
			InviteState eventList `json:"invite_state"`
		} `json:"invite"`
		Leave map[string]joinedRoom `json:"leave"`
	} `json:"rooms"`
	AccountData eventList `json:"account_data"`
	ToDevice    eventList `json:"to_device"`
}

type eventList struct {
	Events []json.RawMessage `json:"events"`
}

// timeline is a room's timeline of /sync: limited when events were left out before it,
// prev_batch then the upstream's /messages token to read them.
type timeline struct {
	eventList
	Limited   bool   `json:"limited"`
	PrevBatch string `json:"prev_batch"`
}

type joinedRoom struct {
	State       eventList `json:"state"`
	Timeline    timeline  `json:"timeline"`
	Ephemeral   eventList `json:"ephemeral"`
	AccountData eventList `json:"account_data"`
	Unread      *struct {
		NotificationCount int64 `json:"notification_count"`
		HighlightCount    int64 `json:"highlight_count"`
	} `json:"unread_notifications"`
}

// eventHead is what the store reads of an event.
type eventHead struct {
	EventID  string  `json:"event_id"`
	Type     string  `json:"type"`
	StateKey *string `json:"state_key"`
	Content  struct {
		Membership string   `json:"membership"`
		UserIDs    []string `json:"user_ids"`
	} `json:"content"`
}

// changes is what one ingested response touched: the rooms (events, typing) and whether
// the user's own streams moved (to-device, memberships, account data).
type changes struct {
	rooms map[string]bool
	user  bool
}

// ingester is one ingestion transaction.
type ingester struct {
	ctx              context.Context
	tx               *sql.Tx
	userID, deviceID string
	room, edu, ad    int64 // newest positions handed out
	toDeviceLowest   int64
	ch               changes
}

// Ingest stores one upstream /sync answer of the device in one transaction together with
// its next_batch, so nothing (to-device messages above all: the upstream deletes them once
// next_batch is used) is lost between polls. It returns what changed.
func (s *Store) Ingest(ctx context.Context, userID, deviceID string, r *syncResponse) (changes, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	in := &ingester{ctx: ctx, userID: userID, deviceID: deviceID, room: s.room.Load(), edu: s.edu.Load(), ad: s.ad.Load(),
		ch: changes{rooms: map[string]bool{}}}
	err := sqlutil.WithTransaction(ctx, s.db.DB, func(tx *sql.Tx) error {
		in.tx = tx
		return in.apply(r)
	})
	if err != nil {
		return changes{}, err
	}
	s.room.Store(in.room)
	s.edu.Store(in.edu)
	s.ad.Store(in.ad)
	if in.toDeviceLowest > 0 {
		s.pendingMu.Lock()
		k := deviceKey(userID, deviceID)
		if cur, ok := s.pending[k]; !ok || in.toDeviceLowest < cur {
			s.pending[k] = in.toDeviceLowest
		}
		s.pendingMu.Unlock()
	}
	return in.ch, nil
}

func (in *ingester) exec(q string, args ...any) error {
	_, err := in.tx.ExecContext(in.ctx, q, args...)
	return err
}

func (in *ingester) apply(r *syncResponse) error {
	// The upstream's answer has no order across rooms: the rooms are stored oldest newest
	// event first, so room positions follow the rooms' recency.
	for _, roomID := range byRecency(r.Rooms.Join) {
		jr := r.Rooms.Join[roomID]
		if err := in.room_(roomID, &jr, "join"); err != nil {
			return err
		}
	}
	for _, roomID := range byRecency(r.Rooms.Leave) {
		lr := r.Rooms.Leave[roomID]
		if err := in.room_(roomID, &lr, "leave"); err != nil {
			return err
		}
	}
	for roomID, inv := range r.Rooms.Invite {
		state, err := json.Marshal(inv.InviteState.Events)
		if err != nil {
			return err
		}
		if err := in.exec(`INSERT INTO syncv3proxy_invite_state (user_id, room_id, state) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, room_id) DO UPDATE SET state = excluded.state`, in.userID, roomID, string(state)); err != nil {
			return err
		}
		if err := in.membership(roomID, "invite", 0); err != nil {
			return err
		}
	}
	for _, ev := range r.AccountData.Events {
		if err := in.accountData("", ev); err != nil {
			return err
		}
	}
	for _, ev := range r.ToDevice.Events {
		in.edu++
		if in.toDeviceLowest == 0 {
			in.toDeviceLowest = in.edu
		}
		if err := in.exec(`INSERT INTO syncv3proxy_to_device (pos, user_id, device_id, event) VALUES ($1, $2, $3, $4)`,
			in.edu, in.userID, in.deviceID, string(ev)); err != nil {
			return err
		}
		in.ch.user = true
	}
	for name, pos := range map[string]int64{"room": in.room, "edu": in.edu, "account_data": in.ad} {
		if err := in.exec(`INSERT INTO syncv3proxy_positions (name, pos) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET pos = excluded.pos`, name, pos); err != nil {
			return err
		}
	}
	return in.exec(`INSERT INTO syncv3proxy_pollers (user_id, device_id, since) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, device_id) DO UPDATE SET since = excluded.since`, in.userID, in.deviceID, r.NextBatch)
}

// byRecency orders the rooms by the origin_server_ts of their newest timeline event, oldest
// first (rooms without one first), room ID breaking ties.
func byRecency(rooms map[string]joinedRoom) []string {
	ts := make(map[string]int64, len(rooms))
	ids := make([]string, 0, len(rooms))
	for id, jr := range rooms {
		ids = append(ids, id)
		if n := len(jr.Timeline.Events); n > 0 {
			var e struct {
				TS int64 `json:"origin_server_ts"`
			}
			_ = json.Unmarshal(jr.Timeline.Events[n-1], &e)
			ts[id] = e.TS
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		if ts[a] != ts[b] {
			return cmp.Compare(ts[a], ts[b])
		}
		return strings.Compare(a, b)
	})
	return ids
}

// room_ stores a joined or left room's state and timeline, typing, account data and
// unread counts; section is the /sync section it came in.
func (in *ingester) room_(roomID string, jr *joinedRoom, section string) error {
	// A limited timeline has a gap before it (gaps.go): recorded below the positions of
	// this answer's state and timeline of the room, which a fill never passes.
	floor := in.room
	if err := in.gap(roomID, floor, &jr.Timeline); err != nil {
		return err
	}
	for _, ev := range jr.State.Events {
		if err := in.event(roomID, ev, false); err != nil {
			return err
		}
	}
	for _, ev := range jr.Timeline.Events {
		if err := in.event(roomID, ev, true); err != nil {
			return err
		}
	}
	last, err := in.latestMembership(roomID)
	if err != nil {
		return err
	}
	switch {
	case section == "join" && last != "join":
		err = in.membership(roomID, "join", 0)
	case section == "leave" && last != "leave" && last != "ban":
		err = in.membership(roomID, "leave", 0)
	}
	if err != nil {
		return err
	}
	for _, ev := range jr.Ephemeral.Events {
		var h eventHead
		if json.Unmarshal(ev, &h) != nil || h.Type != "m.typing" {
			continue
		}
		users := h.Content.UserIDs
		if users == nil {
			users = []string{}
		}
		slices.Sort(users)
		enc, _ := json.Marshal(users)
		var old string
		err := in.tx.QueryRowContext(in.ctx, `SELECT user_ids FROM syncv3proxy_typing WHERE room_id = $1`, roomID).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if old == string(enc) || (errors.Is(err, sql.ErrNoRows) && len(users) == 0) {
			continue
		}
		in.edu++
		if err := in.exec(`INSERT INTO syncv3proxy_typing (room_id, user_ids, pos) VALUES ($1, $2, $3)
			ON CONFLICT (room_id) DO UPDATE SET user_ids = excluded.user_ids, pos = excluded.pos`, roomID, string(enc), in.edu); err != nil {
			return err
		}
		in.ch.rooms[roomID] = true
	}
	for _, ev := range jr.AccountData.Events {
		if err := in.accountData(roomID, ev); err != nil {
			return err
		}
	}
	if u := jr.Unread; u != nil {
		return in.unread(roomID, u.NotificationCount, u.HighlightCount) // unread.go
	}
	return nil
}

// event stores one room event unless the room already has it (another account's poller
// saw it first), and records the user's membership changes.
func (in *ingester) event(roomID string, ev json.RawMessage, timeline bool) error {
	var h eventHead
	if err := json.Unmarshal(ev, &h); err != nil || h.EventID == "" || h.Type == "" {
		return nil // not an event the streams can use
	}
	var pos int64
	err := in.tx.QueryRowContext(in.ctx, `SELECT pos FROM syncv3proxy_events WHERE room_id = $1 AND event_id = $2`, roomID, h.EventID).Scan(&pos)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		pos = in.nextRoomPos()
		var tl int
		if timeline {
			tl = 1
		}
		if err := in.exec(`INSERT INTO syncv3proxy_events (pos, room_id, event_id, type, state_key, timeline, event) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			pos, roomID, h.EventID, h.Type, h.StateKey, tl, string(withRoomID(ev, roomID))); err != nil {
			return err
		}
		in.ch.rooms[roomID] = true
	case err != nil:
		return err
	case timeline:
		// Seen before in a state block only: it is a timeline event too.
		if err := in.exec(`UPDATE syncv3proxy_events SET timeline = 1 WHERE pos = $1`, pos); err != nil {
			return err
		}
	}
	if h.Type == "m.room.member" && h.StateKey != nil && *h.StateKey == in.userID && h.Content.Membership != "" {
		last, err := in.latestMembership(roomID)
		if err != nil {
			return err
		}
		if last != h.Content.Membership {
			return in.membership(roomID, h.Content.Membership, pos)
		}
	}
	return nil
}

// latestMembership is the user's newest recorded membership of the room ("" if none).
func (in *ingester) latestMembership(roomID string) (string, error) {
	var m string
	err := in.tx.QueryRowContext(in.ctx, `SELECT membership FROM syncv3proxy_memberships WHERE user_id = $1 AND room_id = $2 ORDER BY pos DESC LIMIT 1`,
		in.userID, roomID).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return m, err
}

// membership records a change of the user's membership at the event's position, or at a
// new position when the event is older than the user's newest recorded change (or there is
// no event: an invite, a section the user's member event did not come in).
func (in *ingester) membership(roomID, membership string, pos int64) error {
	var newest sql.NullInt64
	if err := in.tx.QueryRowContext(in.ctx, `SELECT MAX(pos) FROM syncv3proxy_memberships WHERE user_id = $1 AND room_id = $2`,
		in.userID, roomID).Scan(&newest); err != nil {
		return err
	}
	if pos == 0 || (newest.Valid && pos <= newest.Int64) {
		pos = in.nextRoomPos()
	}
	in.ch.user = true
	in.ch.rooms[roomID] = true
	return in.exec(`INSERT INTO syncv3proxy_memberships (user_id, room_id, pos, membership) VALUES ($1, $2, $3, $4)`,
		in.userID, roomID, pos, membership)
}

// accountData stores one account data event of the user (roomID "" for global) at a new
// account data position when its content changed.
func (in *ingester) accountData(roomID string, ev json.RawMessage) error {
	var a struct {
		Type    string          `json:"type"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(ev, &a) != nil || a.Type == "" || len(a.Content) == 0 {
		return nil
	}
	var old string
	err := in.tx.QueryRowContext(in.ctx, `SELECT content FROM syncv3proxy_account_data WHERE user_id = $1 AND room_id = $2 AND type = $3`,
		in.userID, roomID, a.Type).Scan(&old)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if err == nil && old == string(a.Content) {
		return nil
	}
	in.ad++
	in.ch.user = true
	return in.exec(`INSERT INTO syncv3proxy_account_data (user_id, room_id, type, content, pos) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, pos = excluded.pos`,
		in.userID, roomID, a.Type, string(a.Content), in.ad)
}

// withRoomID adds room_id to an event of /sync (which leaves it out), as the syncapi's
// sync v3 events carry it.
func withRoomID(ev json.RawMessage, roomID string) json.RawMessage {
	t := bytes.TrimSpace(ev)
	var probe struct {
		RoomID *string `json:"room_id"`
	}
	if json.Unmarshal(t, &probe) == nil && probe.RoomID != nil {
		return t
	}
	id, _ := json.Marshal(roomID)
	out := append([]byte(`{"room_id":`), id...)
	if rest := bytes.TrimSpace(t[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, t[1:]...)
}
