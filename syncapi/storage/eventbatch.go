package storage

import (
	"context"
	"database/sql"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// RoomEventAt is one topic 2 new-event record and its position, for StoreRoomEvents.
type RoomEventAt struct {
	Pos   int64
	Event *NewRoomEvent
}

// StoreRoomEvents stores a run of topic 2 new-event records in one transaction: for each,
// in order, what StoreRoomEvent does (the replay check, the event, its state change, the
// receipt of its position and the watermark move), the watermark carried from one record
// to the next. It returns each record's Advance, the same as storing them one by one with
// StoreRoomEvent would have (a replayed record is Duplicate and changes nothing), and sets
// each stored record's Applied. On error nothing is stored and the Advances and Applied
// mean nothing. The topic 2 consumer uses it for the runs of records several rooms' calls
// queued at once (consumers/groupcommit.go: one commit, one fsync on SQLite, one hold of
// the watermark's row lock on Postgres, instead of one per record).
func (d *Database) StoreRoomEvents(ctx context.Context, recs []RoomEventAt) ([]Advance, error) {
	advs := make([]Advance, len(recs))
	if len(recs) == 0 {
		return advs, nil
	}
	err := sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		w, err := d.lockStream(ctx, tx, StreamRoom)
		if err != nil {
			return err
		}
		for i, r := range recs {
			if advs[i], err = storeRoomEvent(ctx, tx, w, r.Pos, r.Event); err != nil {
				return err
			}
			w = advs[i].To
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return advs, nil
}
