package syncv3proxy

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/syncv3"
)

// Source is the sync v3 engine's Source over the proxy's database: room positions are the
// order the proxy stored events and membership changes in, edu positions the order of
// typing changes and to-device messages.
type Source struct {
	st      *Store
	n       *notifier
	pollers *Pollers
}

var _ syncv3.Source = (*Source)(nil)

// Position is the newest committed room, edu and account data positions.
func (s *Source) Position() syncv3.Pos {
	return syncv3.Pos{Room: s.st.room.Load(), EDU: s.st.edu.Load(), AccountData: s.st.ad.Load()}
}

// CatchUp waits (bounded) for a poll round of the device that began after the request
// arrived, so what the client wrote upstream through the proxy is stored (read your own
// writes). A poller the upstream refused answers with the upstream's 401.
func (s *Source) CatchUp(ctx context.Context, userID, deviceID string) error {
	return s.pollers.catchUp(ctx, userID, deviceID)
}

// Listen registers for the user's and the rooms' news.
func (s *Source) Listen(userID string, rooms []string) syncv3.Listener {
	return s.n.listen(userID, rooms)
}

// membershipAt is the user's membership of the room at room position at and its position
// ("" when none).
func (s *Source) membershipAt(ctx context.Context, userID, roomID string, at int64) (string, int64, error) {
	var m string
	var pos int64
	err := s.st.db.Reader().QueryRowContext(ctx, `SELECT membership, pos FROM syncv3proxy_memberships
		WHERE user_id = $1 AND room_id = $2 AND pos <= $3 ORDER BY pos DESC LIMIT 1`, userID, roomID, at).Scan(&m, &pos)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, nil
	}
	return m, pos, err
}

// readableUpTo is the newest room position of the room the user may read at at: at while
// joined, their leave (or ban) while left; ok is false when they never were in the room.
func (s *Source) readableUpTo(ctx context.Context, userID, roomID string, at int64) (upTo int64, membership string, err error) {
	m, pos, err := s.membershipAt(ctx, userID, roomID, at)
	if err != nil {
		return 0, "", err
	}
	switch m {
	case "":
		return 0, "", httputil.Forbidden("You are not a member of the room")
	case "leave", "ban":
		return pos, m, nil
	}
	return at, m, nil
}

// Typing is the room's m.typing EDU when its typers changed after since, for a user
// joined at upTo.
func (s *Source) Typing(ctx context.Context, userID, roomID string, since int64, upTo syncv3.Pos) (json.RawMessage, error) {
	m, _, err := s.membershipAt(ctx, userID, roomID, upTo.Room)
	if err != nil || m != "join" {
		return nil, err
	}
	var users string
	var pos int64
	err = s.st.db.Reader().QueryRowContext(ctx, `SELECT user_ids, pos FROM syncv3proxy_typing WHERE room_id = $1`, roomID).Scan(&users, &pos)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil || pos <= since || (since < 0 && users == "[]") {
		return nil, err
	}
	return json.Marshal(map[string]any{"type": "m.typing", "room_id": roomID, "content": map[string]any{"user_ids": json.RawMessage(users)}})
}

// ToDevice reads the device's stored messages in (after, upTo].
func (s *Source) ToDevice(ctx context.Context, userID, deviceID string, after, upTo int64, limit int) ([]syncv3.ToDeviceMessage, error) {
	rows, err := s.st.db.Reader().QueryContext(ctx, `SELECT pos, event FROM syncv3proxy_to_device
		WHERE user_id = $1 AND device_id = $2 AND pos > $3 AND pos <= $4 ORDER BY pos LIMIT CAST($5 AS INTEGER)`, userID, deviceID, after, upTo, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []syncv3.ToDeviceMessage
	for rows.Next() {
		var m syncv3.ToDeviceMessage
		var ev string
		if err := rows.Scan(&m.Pos, &ev); err != nil {
			return nil, err
		}
		m.Event = json.RawMessage(ev)
		out = append(out, m)
	}
	return out, rows.Err()
}

// ToDevicePending is the lowest stored message position of the device, from memory.
func (s *Source) ToDevicePending(userID, deviceID string) (int64, bool) {
	s.st.pendingMu.Lock()
	defer s.st.pendingMu.Unlock()
	p, ok := s.st.pending[deviceKey(userID, deviceID)]
	return p, ok
}

// DeleteToDevice deletes the device's messages up to upTo.
func (s *Source) DeleteToDevice(ctx context.Context, userID, deviceID string, upTo int64) error {
	if _, err := s.st.db.ExecContext(ctx, `DELETE FROM syncv3proxy_to_device WHERE user_id = $1 AND device_id = $2 AND pos <= $3`,
		userID, deviceID, upTo); err != nil {
		return err
	}
	// Under the ingestion lock: a message stored meanwhile is not forgotten.
	s.st.writeMu.Lock()
	defer s.st.writeMu.Unlock()
	var low sql.NullInt64
	if err := s.st.db.QueryRowContext(ctx, `SELECT MIN(pos) FROM syncv3proxy_to_device WHERE user_id = $1 AND device_id = $2`,
		userID, deviceID).Scan(&low); err != nil {
		return err
	}
	s.st.pendingMu.Lock()
	defer s.st.pendingMu.Unlock()
	if low.Valid {
		s.st.pending[deviceKey(userID, deviceID)] = low.Int64
	} else {
		delete(s.st.pending, deviceKey(userID, deviceID))
	}
	return nil
}
