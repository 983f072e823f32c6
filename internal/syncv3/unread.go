package syncv3

import (
	"context"
	"slices"
)

// room_list's unread counts (notification_count, highlight_count): served when the
// Source counts unread notifications (UnreadCounter), negotiated away otherwise.

// UnreadCounter is implemented by a Source that fills RoomInfo's NotificationCount and
// HighlightCount in RoomFields when the fields ask for them.
type UnreadCounter interface {
	// CountsUnread reports whether the counts are served (a server may turn them off).
	CountsUnread() bool
	// ReadReceiptRooms returns those of roomIDs where the user's own read receipts moved
	// at edu positions in (after, upTo]: their counts changed without an event.
	ReadReceiptRooms(ctx context.Context, userID string, roomIDs []string, after, upTo int64) (map[string]bool, error)
}

// wantsCounts reports whether fields ask for either count.
func wantsCounts(fields []string) bool {
	return slices.Contains(fields, FieldNotificationCount) || slices.Contains(fields, FieldHighlightCount)
}

// countFields drops the count fields from negotiated fields when src does not serve them.
func countFields(fields []string, src Source) []string {
	if c, ok := src.(UnreadCounter); ok && c.CountsUnread() || !wantsCounts(fields) {
		return fields
	}
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if f != FieldNotificationCount && f != FieldHighlightCount {
			out = append(out, f)
		}
	}
	return out
}

// receiptsMoved reports whether a room_list delta must look at read receipts: counts are
// asked for and the edu stream moved.
func (b *build) receiptsMoved(pos Pos, fields []string) bool {
	_, ok := b.e.Source.(UnreadCounter)
	return ok && wantsCounts(fields) && pos.EDU > b.from.Pos.EDU
}

// receiptRooms marks in changed the listed rooms whose counts a receipt of the user's
// changed since the delta's token.
func (b *build) receiptRooms(ctx context.Context, pos Pos, fields, listed []string, changed map[string]bool) error {
	if !b.receiptsMoved(pos, fields) || len(listed) == 0 {
		return nil
	}
	rooms, err := b.e.Source.(UnreadCounter).ReadReceiptRooms(ctx, b.sess.UserID, listed, b.from.Pos.EDU, pos.EDU)
	if err != nil {
		return err
	}
	for r := range rooms {
		changed[r] = true
	}
	return nil
}
