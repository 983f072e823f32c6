package internal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// maxGroupSends bounds how many queued sends one transaction commits.
const maxGroupSends = 64

// writeFn is one write in a room's transaction.
type writeFn func(ctx context.Context, w *roomWriter) error

// sendJob is a SendEvent waiting for its room's next transaction.
type sendJob struct {
	ctx     context.Context
	req     *api.SendEventRequest
	eventID string
	err     error
	done    bool // set by the sender that ran it, read after taking the room lock
}

// sendQueues holds each room's sends queued behind its lock (group commit, arrow 4).
type sendQueues struct {
	mu    sync.Mutex
	rooms map[string][]*sendJob
}

func (q *sendQueues) push(roomID string, j *sendJob) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.rooms == nil {
		q.rooms = map[string][]*sendJob{}
	}
	q.rooms[roomID] = append(q.rooms[roomID], j)
}

// take removes and returns up to max of roomID's queued sends, oldest first.
func (q *sendQueues) take(roomID string, max int) []*sendJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	jobs := q.rooms[roomID]
	if len(jobs) <= max {
		delete(q.rooms, roomID)
		return jobs
	}
	q.rooms[roomID] = jobs[max:]
	return jobs[:max:max]
}

// groupSend is SendEvent's group commit. A send joins its room's queue and waits for the
// room's lock; whichever sender gets the lock takes every send queued by then (up to
// maxGroupSends) and runs them in one transaction, each built on the one before it (its own
// event, depth and prev_events) and authorised on its own against the state the earlier
// ones left. A refused send fails alone (inGroup). Every send of the group is answered
// after the one commit, so an event ID returned means the event is committed; if the
// commit fails, all of them fail. One send alone runs exactly as writeRoom would.
func (a *RoomserverInternalAPI) groupSend(ctx context.Context, req *api.SendEventRequest) (*api.SendEventResponse, error) {
	job := &sendJob{ctx: ctx, req: req}
	a.sendq.push(req.RoomID, job)
	unlock := a.locks.lock(req.RoomID)
	for !job.done {
		jobs := a.sendq.take(req.RoomID, maxGroupSends)
		fns := make([]writeFn, 0, len(jobs))
		for _, j := range jobs {
			fns = append(fns, func(_ context.Context, w *roomWriter) error {
				if err := j.ctx.Err(); err != nil {
					return err // its client has gone: not sent
				}
				id, err := w.sendOne(j.ctx, j.req)
				j.eventID = id
				return err
			})
		}
		// The group's transaction outlives one sender's cancelled request.
		bctx := ctx
		if len(jobs) > 1 {
			bctx = context.WithoutCancel(ctx)
		}
		errs := a.writeRoomLocked(bctx, "send_event", req.RoomID, fns)
		for i, j := range jobs {
			j.err = errs[i]
			j.done = true
		}
	}
	unlock()
	if job.err != nil {
		return nil, job.err
	}
	return &api.SendEventResponse{EventID: job.eventID, RoomID: req.RoomID}, nil
}

// errNothingToCommit rolls back a group in which every write failed.
var errNothingToCommit = errors.New("roomserver: every write of the group failed")

// writeRoomLocked runs fns in one transaction on an existing room; the caller holds the
// room's lock. It returns each fn's error: with one fn, any error rolls the transaction
// back; with several, a fn that fails before writing fails alone and the others commit
// (inGroup). An error of the transaction itself (the room lookup, a fn failing after it
// wrote, staging the outputs, the commit) is every fn's error. After the commit it wakes the
// outbox relay and keeps the room's head (roomhead.go).
func (a *RoomserverInternalAPI) writeRoomLocked(ctx context.Context, op, roomID string, fns []writeFn) []error {
	start := time.Now()
	defer func() { writeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds()) }()
	errs := make([]error, len(fns))
	var writer *roomWriter
	head := a.heads.take(roomID)
	err := a.db.WithTx(ctx, func(s *storage.Store, tx *sql.Tx) error {
		if head == nil {
			room, err := s.GetRoom(ctx, roomID)
			if err != nil {
				return err
			}
			if room == nil {
				return httputil.NotFound("Unknown room %s", roomID)
			}
			head = newRoomHead(*room)
		}
		w, err := a.newWriter(s, tx, head)
		if err != nil {
			return err
		}
		writer = w
		if len(fns) == 1 {
			if err := fns[0](ctx, w); err != nil {
				return err
			}
			return w.flush(ctx)
		}
		ok := 0
		for i, fn := range fns {
			fnErr, err := w.inGroup(ctx, fn)
			if err != nil {
				return err
			}
			if errs[i] = fnErr; fnErr == nil {
				ok++
			}
		}
		if ok == 0 {
			return errNothingToCommit
		}
		return w.flush(ctx)
	})
	if err != nil {
		if !errors.Is(err, errNothingToCommit) {
			for i := range errs {
				errs[i] = err
			}
		}
		return errs
	}
	if writer != nil {
		if !writer.stale {
			a.heads.put(roomID, writer.head)
		}
		writer.committed()
		if writer.staged > 0 {
			a.outbox.Kick()
		}
	}
	return errs
}

// inGroup runs one write of a group. A write that fails before changing any row (every
// refusal: bad input, the auth rules, a repeated state event are all decided before the
// first write) leaves the transaction as it was, and only its own request fails. A write
// that fails after changing rows cannot be taken out of the transaction alone: err fails
// the whole group, and none of its requests is answered with an event. fnErr is fn's error.
// A write the room's head does not follow (stale: a fork, state resolution) makes the next
// writes of the group read the extremities, state and members from the tables again.
func (w *roomWriter) inGroup(ctx context.Context, fn writeFn) (fnErr, err error) {
	writes, pending := w.s.Writes(), len(w.pending)
	wasStale := w.stale
	w.stale = false
	fnErr = fn(ctx, w)
	if w.stale {
		w.rereadHead()
	}
	w.stale = w.stale || wasStale
	if fnErr == nil {
		return nil, nil
	}
	if w.s.Writes() != writes || len(w.pending) != pending {
		return fnErr, fmt.Errorf("roomserver: a write of a group failed after changing rows: %w", fnErr)
	}
	return fnErr, nil
}

// rereadHead forgets what the room's head holds besides the room row (whose snapshot the
// writes keep current), so that the rest of the transaction reads it again from the tables,
// which see the transaction's own writes.
func (w *roomWriter) rereadHead() {
	w.head.extremities = nil
	w.head.state = map[matrix.StateKeyTuple]storage.StateRef{}
	w.head.joined, w.head.servers = nil, nil
}
