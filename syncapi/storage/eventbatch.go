package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
//
// The receipts are kept in memory for the run (receiver) and written once at its end: a
// record costs the statements that write it, not the replay check's, the receipt's and
// the watermark's round trips of its own.
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
		hi := w
		for _, r := range recs {
			hi = max(hi, r.Pos)
		}
		rc, err := newReceiver(ctx, tx, StreamRoom, w, hi)
		if err != nil {
			return err
		}
		for i, r := range recs {
			if rc.seen(r.Pos) {
				advs[i] = Advance{From: rc.to, To: rc.to, Duplicate: true}
				continue
			}
			if err := writeRoomEvent(ctx, tx, r.Pos, r.Event); err != nil {
				return err
			}
			if advs[i], err = rc.receive(ctx, tx, r.Pos); err != nil {
				return err
			}
		}
		return rc.flush(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return advs, nil
}

// receiver is receive for a run of records in one transaction, kept in memory: the
// positions received above the watermark (read once, up to the run's highest position hi),
// the positions the run stored, and the watermark; flush writes them.
type receiver struct {
	s        Stream
	from, to int64 // the watermark when the run began, and now
	hi       int64 // the run's highest position; the rows above it were not read
	held     map[int64]bool
	stored   []int64 // positions the run stored
	rows     bool    // rows of syncapi_received_positions may lie at or below to
}

func newReceiver(ctx context.Context, tx *sql.Tx, s Stream, w, hi int64) (*receiver, error) {
	rc := &receiver{s: s, from: w, to: w, hi: hi, held: map[int64]bool{}}
	if hi <= w+1 {
		return rc, nil // none can be held between w and hi
	}
	rows, err := tx.QueryContext(ctx, `SELECT pos FROM syncapi_received_positions WHERE stream = $1 AND pos > $2 AND pos <= $3`, string(s), w, hi)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, err
		}
		rc.held[p] = true
		rc.rows = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("syncapi storage: reading received %s positions: %w", s, err)
	}
	return rc, nil
}

// seen reports whether pos was stored before (at or below the watermark, received above
// it, or stored by the run); pos must be at most hi.
func (rc *receiver) seen(pos int64) bool {
	return pos <= rc.to || rc.held[pos]
}

// receive records pos (not seen) as stored and moves the watermark over every contiguous
// stored position; when it reaches hi, over the rows received above hi too.
func (rc *receiver) receive(ctx context.Context, tx *sql.Tx, pos int64) (Advance, error) {
	adv := Advance{From: rc.to}
	rc.held[pos] = true
	rc.stored = append(rc.stored, pos)
	for rc.held[rc.to+1] {
		delete(rc.held, rc.to+1)
		rc.to++
	}
	if rc.to == rc.hi && rc.to > adv.From {
		to, found, err := extend(ctx, tx, rc.s, rc.to)
		if err != nil {
			return Advance{}, err
		}
		rc.to, rc.rows = to, rc.rows || found
	}
	adv.To = rc.to
	return adv, nil
}

// flush writes the run's receipts: a row for each stored position still held back, and
// the watermark.
func (rc *receiver) flush(ctx context.Context, tx *sql.Tx) error {
	for _, p := range rc.stored {
		if p <= rc.to {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO syncapi_received_positions (stream, pos) VALUES ($1, $2) ON CONFLICT DO NOTHING`, string(rc.s), p); err != nil {
			return err
		}
	}
	if rc.to == rc.from {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE syncapi_stream_positions SET watermark = $2 WHERE stream = $1`, string(rc.s), rc.to); err != nil {
		return err
	}
	if rc.rows {
		if _, err := tx.ExecContext(ctx, `DELETE FROM syncapi_received_positions WHERE stream = $1 AND pos <= $2`, string(rc.s), rc.to); err != nil {
			return err
		}
	}
	return nil
}
