package internal

import (
	"context"

	"github.com/axon-matrix/axon/matrix"
)

// a.writes (writepos.Tracker) is the roomserver's record for read-your-writes (arrow 2:
// QueryWritePosition): the newest topic 2 position of each room's committed writes, keyed
// by room ID, and of each user's — the events they sent and the membership events naming
// them (invites, kicks, bans) — keyed by user ID (room IDs start with '!', user IDs with
// '@', so one map holds both). roomWriter.committed records a transaction's newest
// position after its commit; the floor is the newest position assigned before this process
// started. The polylith runs one roomserver, so this process sees every write.

// writtenFor lists the users a stored event was written for: its sender and, for a
// membership event, its target.
func writtenFor(e matrix.PDU) []string {
	users := []string{e.Sender()}
	if e.Type() == "m.room.member" {
		if sk := e.StateKey(); sk != nil && *sk != e.Sender() {
			users = append(users, *sk)
		}
	}
	return users
}

// QueryWritePosition implements api.RoomserverAPI (arrow 2, read-your-writes): a map
// lookup; the newest assigned position is read once per process.
func (a *RoomserverInternalAPI) QueryWritePosition(ctx context.Context, roomID, userID string) (int64, error) {
	return a.writes.Position(ctx, roomID, userID)
}
