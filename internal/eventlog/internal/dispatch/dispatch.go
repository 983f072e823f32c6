// Package dispatch is the part of an event log consumer that both backends share: it runs
// a handler over delivered messages so that messages of one key are handled one call at a
// time in order (a call takes the run of the key's messages waiting at that moment, up to
// MaxBatch, for a BatchHandler), different keys run concurrently on a bounded number of workers (one slow room never
// stalls the rooms that share its partition, ARCHITECTURE.md §5), failing handlers are
// retried with backoff, and the offset reported for commit per partition never passes a
// message whose handler has not succeeded.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
)

// ErrStopped is returned by Submit after Stop.
var ErrStopped = errors.New("dispatch: stopped")

// Config configures a Dispatcher.
type Config struct {
	// BatchHandler handles runs of up to MaxBatch consecutive messages of one key: the
	// messages queued for the key when a call starts, never waiting for more. Either it or
	// Handler is required.
	BatchHandler eventlog.BatchHandler
	// MaxBatch caps a BatchHandler call's messages (default 1).
	MaxBatch int
	// Handler handles each message (a BatchHandler with MaxBatch 1); used when BatchHandler
	// is nil.
	Handler eventlog.Handler
	// MaxActive caps the handler calls running at once (default 16).
	MaxActive int
	// MaxPending caps messages submitted and not yet finished; Submit blocks beyond it
	// (default 1024).
	MaxPending int
	// Commit is told, per partition, the offset of the next message to read once every
	// message before it is handled. It is called with the dispatcher's lock held, in
	// increasing order per partition: it must be quick and must not call the Dispatcher.
	Commit func(partition int32, next int64)
	// Backoff is the wait between retries of a failing handler (default DefaultBackoff).
	Backoff Backoff
	// OnError, if set, is told of every failed handler call (for logs and metrics), once
	// per message the call covered.
	OnError func(msg eventlog.Message, attempt int, err error)
	// OnSuccess, if set, is told of every message handled successfully.
	OnSuccess func(msg eventlog.Message)
}

// Dispatcher runs a Handler over submitted messages, per key in order. Make one with New;
// Submit messages in partition offset order; Stop it when done.
type Dispatcher struct {
	cfg   Config
	ctx   context.Context
	stop  chan struct{}
	once  sync.Once
	sem   chan struct{} // running handler calls
	slots chan struct{} // pending messages
	wg    sync.WaitGroup

	mu    sync.Mutex
	keys  map[string]*keyQueue
	parts map[int32]*watermark
}

type keyQueue struct {
	msgs []eventlog.Message
}

// New makes a Dispatcher whose handler calls get ctx. When ctx is done the dispatcher
// behaves as if stopped.
func New(ctx context.Context, cfg Config) *Dispatcher {
	if cfg.MaxActive <= 0 {
		cfg.MaxActive = 16
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 1024
	}
	if cfg.Backoff.Min <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.BatchHandler == nil {
		cfg.BatchHandler = eventlog.Batch(cfg.Handler)
		cfg.MaxBatch = 1
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1
	}
	return &Dispatcher{
		cfg:   cfg,
		ctx:   ctx,
		stop:  make(chan struct{}),
		sem:   make(chan struct{}, cfg.MaxActive),
		slots: make(chan struct{}, cfg.MaxPending),
		keys:  make(map[string]*keyQueue),
		parts: make(map[int32]*watermark),
	}
}

// Submit queues msg behind the earlier messages of its key. Messages of one partition must
// be submitted in increasing offset order. Submit blocks while MaxPending messages are
// unfinished; it returns ctx's error or ErrStopped if it gives up waiting.
func (d *Dispatcher) Submit(ctx context.Context, msg eventlog.Message) error {
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.stop:
		return ErrStopped
	case <-d.ctx.Done():
		return ErrStopped
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.stop:
		<-d.slots
		return ErrStopped
	default:
	}
	w := d.parts[msg.Partition]
	if w == nil {
		w = newWatermark()
		d.parts[msg.Partition] = w
	}
	w.add(msg.Offset)
	if q := d.keys[msg.Key]; q != nil {
		q.msgs = append(q.msgs, msg)
		return nil
	}
	q := &keyQueue{msgs: []eventlog.Message{msg}}
	d.keys[msg.Key] = q
	d.wg.Add(1)
	go d.run(msg.Key, q)
	return nil
}

// Pending reports how many submitted messages are not finished yet.
func (d *Dispatcher) Pending() int { return len(d.slots) }

// Stop makes the dispatcher start no new handler calls and give up retries, waits for the
// handler calls that are running to return, and drops the messages still queued (they were
// never committed, so they are delivered again later). Safe to call more than once.
func (d *Dispatcher) Stop() {
	d.once.Do(func() { close(d.stop) })
	d.wg.Wait()
}

// stopped reports whether Stop was called or the handler context ended.
func (d *Dispatcher) stopped() bool {
	select {
	case <-d.stop:
		return true
	case <-d.ctx.Done():
		return true
	default:
		return false
	}
}

// run handles key's queue until it is empty (the queue is then forgotten; a later message
// of the key starts a new run) or the dispatcher stops. Each call takes the messages queued
// at that moment, up to MaxBatch; they are committed only after the call succeeded.
func (d *Dispatcher) run(key string, q *keyQueue) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(q.msgs) == 0 {
			delete(d.keys, key)
			d.mu.Unlock()
			return
		}
		batch := append([]eventlog.Message(nil), q.msgs[:min(len(q.msgs), d.cfg.MaxBatch)]...)
		d.mu.Unlock()

		if !d.handle(batch) {
			d.mu.Lock()
			delete(d.keys, key)
			for range q.msgs {
				<-d.slots
			}
			q.msgs = nil
			d.mu.Unlock()
			return
		}

		d.mu.Lock()
		q.msgs = q.msgs[len(batch):]
		d.finish(batch)
		d.mu.Unlock()
		for range batch {
			<-d.slots
		}
	}
}

// finish marks a handled run's offsets done and reports each partition's new commit
// position once (a key's messages normally share one partition). Called with d.mu held.
func (d *Dispatcher) finish(batch []eventlog.Message) {
	type move struct {
		part int32
		next int64
	}
	var moves []move
	for _, m := range batch {
		next, moved := d.parts[m.Partition].finish(m.Offset)
		if !moved {
			continue
		}
		i := 0
		for i < len(moves) && moves[i].part != m.Partition {
			i++
		}
		if i == len(moves) {
			moves = append(moves, move{part: m.Partition})
		}
		moves[i].next = next
	}
	if d.cfg.Commit != nil {
		for _, mv := range moves {
			d.cfg.Commit(mv.part, mv.next)
		}
	}
}

// handle calls the handler with batch until it succeeds (true) or the dispatcher stops (false).
func (d *Dispatcher) handle(batch []eventlog.Message) bool {
	for attempt := 1; ; attempt++ {
		select {
		case d.sem <- struct{}{}:
		case <-d.stop:
			return false
		case <-d.ctx.Done():
			return false
		}
		if d.stopped() {
			<-d.sem
			return false
		}
		err := d.call(batch)
		<-d.sem
		if err == nil {
			if d.cfg.OnSuccess != nil {
				for _, m := range batch {
					d.cfg.OnSuccess(m)
				}
			}
			return true
		}
		if d.stopped() {
			return false // a handler cut short by shutdown is not a failure to report
		}
		if d.cfg.OnError != nil {
			for _, m := range batch {
				d.cfg.OnError(m, attempt, err)
			}
		}
		t := time.NewTimer(d.cfg.Backoff.Delay(attempt))
		select {
		case <-t.C:
		case <-d.stop:
			t.Stop()
			return false
		case <-d.ctx.Done():
			t.Stop()
			return false
		}
	}
}

// call runs the handler, turning a panic into an error so one bad message cannot take the
// consumer down; the run is retried like any failure.
func (d *Dispatcher) call(batch []eventlog.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p}
		}
	}()
	return d.cfg.BatchHandler(d.ctx, batch)
}

// PanicError is the error a panicking handler call is turned into.
type PanicError struct{ Value any }

func (e *PanicError) Error() string { return "eventlog handler panicked: " + fmt.Sprint(e.Value) }
