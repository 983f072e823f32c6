package syncv3proxy

import (
	"context"
	"database/sql"
	"errors"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/syncv3"
)

// room_list's notification_count and highlight_count (docs/sync-v3.md, "The proxy"): the
// upstream's own unread_notifications of each joined room, as its /sync last reported them
// to the user (table syncv3proxy_unread). A change of a room's counts gets an edu position,
// so the engine's room_list delta (syncv3.UnreadCounter) names the room and a long-poll of
// the user wakes, as a read receipt does on Axon's own sync.

// unread stores the upstream's counts of the room for the ingesting user. A change takes
// a new edu position and wakes the user's sessions; the first counts of a room take one
// too unless they are zero (nothing changed for the client: the fields were absent).
func (in *ingester) unread(roomID string, notifications, highlights int64) error {
	var n, h int64
	err := in.tx.QueryRowContext(in.ctx, `SELECT notification_count, highlight_count FROM syncv3proxy_unread WHERE user_id = $1 AND room_id = $2`,
		in.userID, roomID).Scan(&n, &h)
	switch {
	case err == nil && n == notifications && h == highlights:
		return nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return err
	}
	var pos int64
	if err == nil || notifications != 0 || highlights != 0 {
		in.edu++
		pos = in.edu
		in.ch.user = true
	}
	return in.exec(`INSERT INTO syncv3proxy_unread (user_id, room_id, notification_count, highlight_count, pos) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, room_id) DO UPDATE SET notification_count = excluded.notification_count,
		highlight_count = excluded.highlight_count, pos = excluded.pos`,
		in.userID, roomID, notifications, highlights, pos)
}

var _ syncv3.UnreadCounter = (*Source)(nil)

// CountsUnread: the proxy serves the upstream's counts (a room the upstream reported none
// for has neither field).
func (s *Source) CountsUnread() bool { return true }

// ReadReceiptRooms are those of roomIDs whose stored counts of the user changed at edu
// positions in (after, upTo]: a read receipt upstream, or anything else that moved them.
func (s *Source) ReadReceiptRooms(ctx context.Context, userID string, roomIDs []string, after, upTo int64) (map[string]bool, error) {
	changed, err := sqlutil.ScanStrings(s.st.db.Reader().QueryContext(ctx,
		`SELECT room_id FROM syncv3proxy_unread WHERE user_id = $1 AND pos > $2 AND pos <= $3`, userID, after, upTo))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	if len(changed) == 0 {
		return out, nil
	}
	listed := make(map[string]bool, len(roomIDs))
	for _, r := range roomIDs {
		listed[r] = true
	}
	for _, r := range changed {
		if listed[r] {
			out[r] = true
		}
	}
	return out, nil
}

// fillUnreadCounts sets the asked-for counts of the joined rooms of out from the stored
// counts (the newest the upstream reported, whatever the snapshot), in bulk.
func (s *Source) fillUnreadCounts(ctx context.Context, userID string, out []syncv3.RoomInfo, wantN, wantH bool) error {
	idx := map[string]int{}
	var joined []string
	for i := range out {
		if out[i].Membership == "join" {
			idx[out[i].RoomID] = i
			joined = append(joined, out[i].RoomID)
		}
	}
	for len(joined) > 0 {
		chunk := joined[:min(len(joined), 500)]
		joined = joined[len(chunk):]
		args := []any{userID}
		for _, r := range chunk {
			args = append(args, r)
		}
		rows, err := s.st.db.Reader().QueryContext(ctx, `SELECT room_id, notification_count, highlight_count FROM syncv3proxy_unread
			WHERE user_id = $1 AND room_id IN (`+sqlutil.Placeholders(2, len(chunk))+`)`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r string
			var n, h int
			if err := rows.Scan(&r, &n, &h); err != nil {
				rows.Close()
				return err
			}
			info := &out[idx[r]]
			if wantN {
				info.NotificationCount = &n
			}
			if wantH {
				info.HighlightCount = &h
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}
