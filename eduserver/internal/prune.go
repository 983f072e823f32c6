package internal

import (
	"context"
	"time"
)

// TxnRetention is how long a send-to-device transaction ID is remembered: a client that
// retries the same transaction within it gets the no-op it expects.
const TxnRetention = 7 * 24 * time.Hour

// pruneEvery is how often RunPruner forgets older transaction IDs.
const pruneEvery = time.Hour

// RunPruner forgets send-to-device transaction IDs older than TxnRetention, at start and
// then hourly, until ctx is done; it returns nil then.
func (e *EDUServer) RunPruner(ctx context.Context) error {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		if n, err := e.db.DeleteTxnsBefore(ctx, e.Now().Add(-TxnRetention).UnixMilli()); err != nil && ctx.Err() == nil {
			e.log.WithError(err).Warn("forgetting old send-to-device transactions")
		} else if n > 0 {
			e.log.WithField("count", n).Debug("forgot old send-to-device transactions")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
