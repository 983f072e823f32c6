package internal

import (
	"context"
	"slices"
	"time"

	"github.com/axon-matrix/axon/federationsender/storage"
	"github.com/axon-matrix/axon/matrix/federation"
)

// delivered is the queue rows of a transaction the destination accepted whose DELETE has
// not committed yet. A sender deletes them while its next transaction is on its way
// (Queues.run), so the DELETE's commit is not between one transaction and the next; its
// reads skip them meanwhile. Rows are never deleted before their transaction was answered
// 200, so nothing queued is lost; rows still here when the process dies are sent again
// after the restart, which the destination ignores (it has those events).
type delivered struct {
	pdus []int64
	edus []storage.EDURow
}

func (d *delivered) empty() bool { return len(d.pdus) == 0 && len(d.edus) == 0 }

// peek reads the next transaction's rows of destination: its oldest queued PDUs and EDUs
// that are not in d, at most federation.MaxTransactionPDUs and MaxTransactionEDUs.
func (q *Queues) peek(ctx context.Context, destination string, d *delivered) ([]storage.Row, []storage.EDURow, error) {
	rows, err := q.db.PeekPDUs(ctx, destination, federation.MaxTransactionPDUs+len(d.pdus))
	if err != nil {
		return nil, nil, err
	}
	if len(d.pdus) > 0 {
		rows = slices.DeleteFunc(rows, func(r storage.Row) bool { return slices.Contains(d.pdus, r.ID) })
	}
	edus, err := q.peekEDUs(ctx, destination, federation.MaxTransactionEDUs+len(d.edus))
	if err != nil {
		return nil, nil, err
	}
	if len(d.edus) > 0 {
		edus = slices.DeleteFunc(edus, func(e storage.EDURow) bool {
			return slices.ContainsFunc(d.edus, func(x storage.EDURow) bool { return x.ID == e.ID })
		})
	}
	return rows[:min(len(rows), federation.MaxTransactionPDUs)], edus[:min(len(edus), federation.MaxTransactionEDUs)], nil
}

// deleteRows deletes d's rows of destination, once.
func (q *Queues) deleteRows(ctx context.Context, destination string, d delivered) error {
	if err := q.db.DeletePDUs(ctx, destination, d.pdus); err != nil {
		return err
	}
	return q.deleteEDUs(ctx, destination, d.edus)
}

// deleteAsync starts deleting d's rows and returns the channel of the result (nil when
// there is nothing to delete).
func (q *Queues) deleteAsync(ctx context.Context, destination string, d delivered) <-chan error {
	if d.empty() {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- q.deleteRows(ctx, destination, d) }()
	return done
}

// deleteNow deletes d's rows, retrying every second until it succeeds (true, d emptied)
// or ctx ends (false).
func (q *Queues) deleteNow(ctx context.Context, destination string, d *delivered) bool {
	for !d.empty() {
		err := q.deleteRows(ctx, destination, *d)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		q.log.WithField("destination", destination).WithError(err).Error("deleting sent rows")
		if !sleep(ctx, time.Second, nil) {
			return false
		}
	}
	*d = delivered{}
	return true
}

func rowIDs(rows []storage.Row) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}
