package internal

import (
	"context"

	"github.com/axon-matrix/axon/internal/syncv3"
)

// Sync v3's room_list counts (notification_count, highlight_count) from the same counting
// as /sync's unread_notifications (unread.go).

var _ syncv3.UnreadCounter = (*V3Source)(nil)

// CountsUnread: unless turned off (config sync_api.unread_counts).
func (v *V3Source) CountsUnread() bool { return !v.s.NoUnreadCounts }

// ReadReceiptRooms are the rooms among roomIDs where the user's read receipts moved in
// (after, upTo] of the edu stream: the Notifier's memory of each room's newest receipt
// (edustate.go) leaves out the quiet rooms without a query.
func (v *V3Source) ReadReceiptRooms(ctx context.Context, userID string, roomIDs []string, after, upTo int64) (map[string]bool, error) {
	rooms := v.s.notifier.roomsWithReceipts(roomIDs, after)
	if len(rooms) == 0 {
		return map[string]bool{}, nil
	}
	return v.s.db.ReadReceiptRoomsBetween(ctx, userID, rooms, after, upTo)
}

// fillUnreadCounts sets the asked-for counts of the joined rooms of out at room position at.
func (v *V3Source) fillUnreadCounts(ctx context.Context, userID string, out []syncv3.RoomInfo, at int64, fields []string) error {
	if v.s.NoUnreadCounts {
		return nil
	}
	var joined []string
	for i := range out {
		if out[i].Membership == "join" {
			joined = append(joined, out[i].RoomID)
		}
	}
	if len(joined) == 0 {
		return nil
	}
	rules, err := v.s.pushRulesOf(ctx, userID, v.s.notifier.Position().AccountData, nil, -1)
	if err != nil {
		return err
	}
	counts, err := v.s.unreadCounts(ctx, userID, v.s.notifier.IgnoredBy(userID), joined, at, rules)
	if err != nil {
		return err
	}
	wantN, wantH := false, false
	for _, f := range fields {
		wantN = wantN || f == syncv3.FieldNotificationCount
		wantH = wantH || f == syncv3.FieldHighlightCount
	}
	for i := range out {
		c, ok := counts[out[i].RoomID]
		if !ok {
			continue
		}
		if wantN {
			n := c.NotificationCount
			out[i].NotificationCount = &n
		}
		if wantH {
			h := c.HighlightCount
			out[i].HighlightCount = &h
		}
	}
	return nil
}
