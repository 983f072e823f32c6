package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/federationsender/storage"
	"github.com/axon-matrix/axon/matrix/federation"
)

// Transmitter sends one transaction (PUT /_matrix/federation/v1/send/{txnId});
// *federation.Client is one.
type Transmitter interface {
	SendTransaction(ctx context.Context, destination, txnID string, txn federation.Transaction) (federation.SendTransactionResponse, error)
}

// Queues runs one sender goroutine per destination with queued PDUs (topic 6, the sending
// end). A sender reads up to federation.MaxTransactionPDUs of its destination's oldest
// rows, sends them as one transaction and, once the destination answered 200, sends the
// next at once, deleting the delivered rows meanwhile (delivered.go); one transaction per
// destination is on its way at a time, so a room's events arrive in order. On a failure
// it waits (Backoff) and sends the same transaction again, with the same transaction ID,
// so the destination can tell a repeat. A sender whose queue is empty deletes what it
// delivered and ends; Notify starts one again.
type Queues struct {
	db      *storage.Database
	tx      Transmitter
	origin  string
	backoff Backoff
	log     *logrus.Entry
	// txnPrefix makes transaction IDs unique across restarts.
	txnPrefix string
	txnSeq    atomic.Int64

	mu      sync.Mutex
	ctx     context.Context
	running map[string]*destinationQueue
	wg      sync.WaitGroup

	times queuedTimes // when rows were queued (axon_federationsender_queue_wait_seconds)
}

type destinationQueue struct {
	name string
	wake chan struct{} // buffered 1: "there may be new rows"
	// retryNow is signalled by ResetBackoff: stop waiting and retry at once (arrow 8).
	retryNow chan struct{}
}

// NewQueues returns the queues of origin's outbound PDUs, sending with tx.
func NewQueues(db *storage.Database, tx Transmitter, origin string, backoff Backoff) *Queues {
	return &Queues{db: db, tx: tx, origin: origin, backoff: backoff, running: map[string]*destinationQueue{},
		txnPrefix: fmt.Sprintf("%d", time.Now().UnixNano()),
		log:       logrus.WithField("component", "federationsender.queues")}
}

// Start resumes every destination that has queued rows (after a restart) and lets Notify
// start senders from then on. Senders stop when ctx ends; Wait waits for them.
func (q *Queues) Start(ctx context.Context) error {
	q.mu.Lock()
	q.ctx = ctx
	q.mu.Unlock()
	dests, err := q.db.Destinations(ctx)
	if err != nil {
		return fmt.Errorf("federationsender: listing queued destinations: %w", err)
	}
	eduDests, err := q.db.EDUDestinations(ctx) // topic 5 (edus.go)
	if err != nil {
		return fmt.Errorf("federationsender: listing queued destinations: %w", err)
	}
	for _, d := range append(dests, eduDests...) {
		q.Notify(d)
	}
	return nil
}

// Wait returns once every sender has stopped (after Start's context ended).
func (q *Queues) Wait() { q.wg.Wait() }

// Notify says destination has new rows: it wakes its sender, or starts one.
func (q *Queues) Notify(destination string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ctx == nil || q.ctx.Err() != nil {
		return // not started, or stopping: Start resumes from the database
	}
	dq := q.running[destination]
	if dq == nil {
		dq = &destinationQueue{name: destination, wake: make(chan struct{}, 1), retryNow: make(chan struct{}, 1)}
		q.running[destination] = dq
		q.wg.Add(1)
		go q.run(q.ctx, dq)
	}
	select {
	case dq.wake <- struct{}{}:
	default:
	}
}

// ResetBackoff makes destination's sender retry at once if it is waiting after a failure
// (the destination contacted us, so it is back: arrow 8).
func (q *Queues) ResetBackoff(destination string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if dq := q.running[destination]; dq != nil {
		select {
		case dq.retryNow <- struct{}{}:
		default:
		}
	}
}

// finish removes dq from the running senders unless it was woken meanwhile; it says
// whether the sender should stop.
func (q *Queues) finish(dq *destinationQueue) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-dq.wake:
		return false // rows arrived after the last read
	default:
	}
	delete(q.running, dq.name)
	return true
}

func (q *Queues) run(ctx context.Context, dq *destinationQueue) {
	defer q.wg.Done()
	destinations.WithLabelValues("sending").Inc()
	state := "sending"
	setState := func(s string) {
		if s != state {
			destinations.WithLabelValues(state).Dec()
			destinations.WithLabelValues(s).Inc()
			state = s
		}
	}
	defer func() { destinations.WithLabelValues(state).Dec() }()
	log := q.log.WithField("destination", dq.name)
	failures := 0
	var batch []storage.Row
	var edus []storage.EDURow // topic 5 (edus.go)
	pending := false
	var txnID string
	// The rows of the last delivered transaction, deleted while the next one is sent
	// (delivered.go); before the sender stops they are deleted for good.
	var sent delivered
	defer func() {
		if !sent.empty() {
			// Stopping: one last try, not bound to ctx; rows it misses go again after
			// the restart (the destination ignores events it has).
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := q.deleteRows(dctx, dq.name, sent); err != nil {
				log.WithError(err).Warn("deleting sent rows at stop; they are sent again after the restart")
			}
		}
	}()
	for ctx.Err() == nil {
		if !pending {
			// Drain a pending wake: the read below sees every row committed before it.
			select {
			case <-dq.wake:
			default:
			}
			rows, peeked, err := q.peek(ctx, dq.name, &sent)
			if err != nil {
				if ctx.Err() == nil {
					log.WithError(err).Error("reading the queue")
				}
				if !sleep(ctx, time.Second, nil) {
					return
				}
				continue
			}
			if len(rows) == 0 && len(peeked) == 0 {
				// Idle: the delivered rows go first, then the sender may stop.
				if !q.deleteNow(ctx, dq.name, &sent) {
					return
				}
				if q.finish(dq) {
					return
				}
				continue
			}
			batch, edus, pending = rows, peeked, true
			txnID = fmt.Sprintf("%s.%d", q.txnPrefix, q.txnSeq.Add(1))
		}
		// The previous transaction's rows are deleted while this one is on its way; if
		// that fails they are deleted (retried) before anything else.
		deleting := q.deleteAsync(ctx, dq.name, sent)
		err := q.send(ctx, dq.name, txnID, batch, edus)
		if deleting != nil {
			if derr := <-deleting; derr == nil {
				sent = delivered{}
			} else if ctx.Err() == nil {
				log.WithError(derr).Error("deleting sent rows")
			}
		}
		if !q.deleteNow(ctx, dq.name, &sent) {
			return
		}
		switch {
		case err == nil:
			// The destination has them: deleted during the next transaction (or before
			// the sender stops).
			sent = delivered{pdus: rowIDs(batch), edus: edus}
			transactions.WithLabelValues("ok").Inc()
			pdusSent.Add(float64(len(batch)))
			batch, edus, pending, failures = nil, nil, false, 0
			setState("sending")
		case ctx.Err() != nil:
			return
		case undeliverable(err):
			// The destination says the transaction itself is bad: resending it can never
			// succeed and would block everything after it.
			log.WithError(err).WithField("pdus", len(batch)).Error("destination refused a transaction as malformed; dropping it")
			if derr := q.deleteRows(ctx, dq.name, delivered{pdus: rowIDs(batch), edus: edus}); derr != nil {
				log.WithError(derr).Error("deleting dropped rows")
				continue // the same batch again
			}
			transactions.WithLabelValues("dropped").Inc()
			batch, edus, pending, failures = nil, nil, false, 0
		default:
			failures++
			transactions.WithLabelValues("failed").Inc()
			d := q.backoff.Delay(failures)
			backoffSeconds.Observe(d.Seconds())
			log.WithError(err).WithField("failures", failures).WithField("retry_in", d.String()).Warn("transaction failed")
			setState("backoff")
			if !sleep(ctx, d, dq.retryNow) {
				return
			}
		}
	}
}

// send sends batch and edus as one transaction.
func (q *Queues) send(ctx context.Context, destination, txnID string, batch []storage.Row, edus []storage.EDURow) error {
	txn := federation.Transaction{Origin: q.origin, OriginServerTS: time.Now().UnixMilli(), PDUs: make([]json.RawMessage, len(batch))}
	for i, r := range batch {
		txn.PDUs[i] = r.JSON
	}
	for _, e := range edus {
		txn.EDUs = append(txn.EDUs, federation.EDU{Type: e.Type, Content: e.JSON})
	}
	start := time.Now()
	q.times.started(destination, batch, start)
	resp, err := q.tx.SendTransaction(ctx, destination, txnID, txn)
	if err != nil {
		transactionSeconds.WithLabelValues("error").Observe(time.Since(start).Seconds())
		return err
	}
	transactionSeconds.WithLabelValues("ok").Observe(time.Since(start).Seconds())
	for id, res := range resp.PDUs {
		if res.Error != "" {
			// The destination's verdict on one PDU (e.g. failed auth there): not retried.
			q.log.WithField("destination", destination).WithField("event_id", id).WithField("error", res.Error).Info("destination rejected a PDU")
		}
	}
	return nil
}

// undeliverable says the destination refused the transaction as such (400, 413), not a
// passing failure.
func undeliverable(err error) bool {
	var he *federation.HTTPError
	return errors.As(err, &he) && (he.StatusCode == http.StatusBadRequest || he.StatusCode == http.StatusRequestEntityTooLarge)
}

// sleep waits d, or until ctx ends (false) or wake is signalled.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}
