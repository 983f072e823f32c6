package internal

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
)

// MaxTransactionEvents is the most events in one transaction to a service.
const MaxTransactionEvents = 100

// Queues runs one sender goroutine per service with queued events (topic 2, the sending
// end). A sender reads up to MaxTransactionEvents of its service's oldest rows (so a
// transaction carries what accumulated while the previous one was in flight), pushes them
// as one transaction and deletes them once the service answered 2xx; on a failure it waits
// (Backoff) and pushes the same transaction again with the same ID, so the service can
// tell a repeat. Every service gets its events in queue order, exactly once per
// successful transaction. A sender whose queue is empty ends; Notify starts one again.
type Queues struct {
	db      *storage.Database
	bridge  *Bridge
	regs    *api.Registrations
	backoff Backoff
	log     *logrus.Entry
	// keys gives MSC3202 services their devices' key counts (arrow 24; nil: none);
	// sent is what each service last got of them.
	keys KeyCounts
	sent sentCounts
	// keyCountsTimeout bounds the keyserver calls of one transaction (0: the default).
	keyCountsTimeout time.Duration
	// txnPrefix makes transaction IDs unique across restarts.
	txnPrefix string
	txnSeq    atomic.Int64

	mu      sync.Mutex
	ctx     context.Context
	running map[string]chan struct{} // service ID → wake (buffered 1)
	wg      sync.WaitGroup
}

// NewQueues returns the queues of the services in regs.
func NewQueues(db *storage.Database, bridge *Bridge, regs *api.Registrations, backoff Backoff) *Queues {
	return &Queues{db: db, bridge: bridge, regs: regs, backoff: backoff, running: map[string]chan struct{}{},
		txnPrefix: fmt.Sprintf("axon%d", time.Now().UnixNano()), log: logrus.WithField("component", "appservice.queues")}
}

// SetKeyCounts gives the senders the keyserver (arrow 24) for the MSC3202 key counts of
// services with org.matrix.msc3202; call it before Start.
func (q *Queues) SetKeyCounts(keys KeyCounts) { q.keys = keys }

// Start resumes every service that has queued rows and lets Notify start senders from
// then on. Senders stop when ctx ends; Wait waits for them. Rows of a service no longer
// configured stay in the table (they go out if it comes back).
func (q *Queues) Start(ctx context.Context) error {
	q.mu.Lock()
	q.ctx = ctx
	q.mu.Unlock()
	ids, err := q.db.Services(ctx)
	if err != nil {
		return fmt.Errorf("appservice: listing queued services: %w", err)
	}
	for _, id := range ids {
		if q.regs.ByID(id) == nil {
			q.log.WithField("appservice", id).Warn("events are queued for an application service that is no longer registered")
			continue
		}
		q.Notify(id)
	}
	return nil
}

// Wait returns once every sender has stopped (after Start's context ended).
func (q *Queues) Wait() { q.wg.Wait() }

// Notify says the service has new rows: it wakes its sender, or starts one.
func (q *Queues) Notify(asID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ctx == nil || q.ctx.Err() != nil {
		return // not started, or stopping: Start resumes from the database
	}
	reg := q.regs.ByID(asID)
	if reg == nil || !reg.HasURL() {
		return
	}
	wake := q.running[asID]
	if wake == nil {
		wake = make(chan struct{}, 1)
		q.running[asID] = wake
		q.wg.Add(1)
		go q.run(q.ctx, reg, wake)
	}
	select {
	case wake <- struct{}{}:
	default:
	}
}

// finish removes the sender unless it was woken meanwhile; it says whether to stop.
func (q *Queues) finish(asID string, wake chan struct{}) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-wake:
		return false
	default:
	}
	delete(q.running, asID)
	return true
}

func (q *Queues) run(ctx context.Context, reg *api.Registration, wake chan struct{}) {
	defer q.wg.Done()
	log := q.log.WithField("appservice", reg.ID)
	failures := 0
	var batch []storage.Row
	var txnID string
	// txn and counts are built once per batch: a retry is the same transaction (same ID,
	// same body), as the service may have processed an attempt whose answer was lost and
	// then only dedupes by ID.
	var txn Transaction
	var counts map[string]deviceCounts
	for ctx.Err() == nil {
		if batch == nil {
			select { // drain: the read below sees every row committed before it
			case <-wake:
			default:
			}
			rows, err := q.db.Peek(ctx, reg.ID, MaxTransactionEvents)
			if err != nil {
				if ctx.Err() == nil {
					log.WithError(err).Error("reading the queue")
				}
				if !sleep(ctx, time.Second) {
					return
				}
				continue
			}
			if len(rows) == 0 {
				if q.finish(reg.ID, wake) {
					return
				}
				continue
			}
			batch = rows
			txnID = fmt.Sprintf("%s.%d", q.txnPrefix, q.txnSeq.Add(1))
			txn = newTransaction(batch)
			counts = q.addKeyCounts(ctx, reg, batch, &txn)
		}
		err := q.bridge.SendTransaction(ctx, reg, txnID, txn)
		if err == nil {
			q.sent.record(reg.ID, counts)
			ids := make([]int64, len(batch))
			for i, r := range batch {
				ids[i] = r.ID
			}
			// The service has them: retry the delete, never the push.
			for {
				derr := q.db.Delete(ctx, reg.ID, ids)
				if derr == nil {
					break
				}
				if ctx.Err() != nil {
					return
				}
				log.WithError(derr).Error("deleting pushed rows")
				if !sleep(ctx, time.Second) {
					return
				}
			}
			transactionsTotal.WithLabelValues("ok").Inc()
			eventsSent.Add(float64(len(batch)))
			batch, failures = nil, 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		transactionsTotal.WithLabelValues("failed").Inc()
		d := q.backoff.Delay(failures)
		log.WithError(err).WithField("failures", failures).WithField("retry_in", d.String()).Warn("transaction to application service failed")
		if !sleep(ctx, d) {
			return
		}
	}
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
