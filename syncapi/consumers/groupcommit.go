package consumers

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// maxGroupRecords bounds how many topic 2 records one group transaction stores (a single
// call's run longer than that still goes alone, whole).
const maxGroupRecords = 256

// groupJob is one storeRun call (one room's run of storable records) waiting for the next
// group transaction.
type groupJob struct {
	ctx  context.Context
	run  []storage.RoomEventAt
	advs []storage.Advance // each record's Advance, once done without err
	// staged is each record's staging time on the roomserver (zero: unknown), for
	// axon_syncapi_roomevent_delay_seconds; nil when not timed.
	staged []time.Time
	err    error
	done   bool // set by the caller that ran the job's group, read after taking commit
}

// groupCommit is the topic 2 consumer's group commit across rooms. The dispatcher runs
// several rooms' HandleBatch calls at once; storing each room's run in its own transaction
// would queue them one behind the other on the stream's watermark (a row lock held over
// every statement on Postgres, the one writer on SQLite). Instead a call queues its run and
// takes commit; whichever call holds commit takes every run queued by then (up to
// maxGroupRecords records) and stores them in one transaction, while the next group forms
// in the queue. The zero value is ready to use.
type groupCommit struct {
	mu    sync.Mutex // guards queue
	queue []*groupJob
	// commit is held by the caller running a group's transaction (and telling the
	// notifier), so groups commit and are reported one after the other.
	commit sync.Mutex
}

func (g *groupCommit) push(j *groupJob) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.queue = append(g.queue, j)
}

// queued is how many calls wait for a group (for the tests).
func (g *groupCommit) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// take removes and returns the oldest queued jobs, whole, as many as fit in max records
// (at least one).
func (g *groupCommit) take(max int) []*groupJob {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, recs := 0, 0
	for n < len(g.queue) && (n == 0 || recs+len(g.queue[n].run) <= max) {
		recs += len(g.queue[n].run)
		n++
	}
	jobs := slices.Clone(g.queue[:n])
	g.queue = slices.Delete(g.queue, 0, n)
	return jobs
}

// storeRun stores a run of one room's storable records (topic 2) and tells the notifier
// what became visible. The run joins the group commit: it is stored in one transaction
// together with the runs other rooms' calls queued meanwhile, its records in order and
// contiguous, the other runs before or after it. It returns when its group has committed,
// or with the group's error (nothing of the group stored; the dispatcher delivers the run
// again, and replayed records change nothing).
func (c *RoomEventConsumer) storeRun(ctx context.Context, run []storage.RoomEventAt) error {
	return c.storeRunStaged(ctx, run, nil)
}

// storeRunStaged is storeRun with each record's staging time on the roomserver (staged[i]
// for run[i]; nil or zero times: not timed).
func (c *RoomEventConsumer) storeRunStaged(ctx context.Context, run []storage.RoomEventAt, staged []time.Time) error {
	if len(run) == 0 {
		return nil
	}
	job := &groupJob{ctx: ctx, run: run, staged: staged}
	c.group.push(job)
	c.group.commit.Lock()
	defer c.group.commit.Unlock()
	for !job.done {
		c.storeGroup(ctx, c.group.take(maxGroupRecords))
	}
	return job.err
}

// storeGroup runs one group's transaction (storage.StoreRoomEvents over the jobs' runs one
// after the other), hands each job its records' Advances, and tells the notifier once for
// the group. If the group's transaction fails, each run is stored again on its own, so
// only the runs that fail alone fail. ctx is the caller's, which runs the group.
func (c *RoomEventConsumer) storeGroup(ctx context.Context, jobs []*groupJob) {
	live := jobs[:0:0]
	var recs []storage.RoomEventAt
	for _, j := range jobs {
		if err := j.ctx.Err(); err != nil {
			j.err, j.done = err, true // its caller has gone: not stored, delivered again
			continue
		}
		live = append(live, j)
		recs = append(recs, j.run...)
	}
	if len(live) == 0 {
		return
	}
	// The group's transaction and what it tells outlive one caller's cancellation.
	gctx := live[0].ctx
	if len(live) > 1 || live[0].ctx != ctx {
		gctx = context.WithoutCancel(ctx)
	}
	advs, err := c.db.StoreRoomEvents(gctx, recs)
	if err != nil && len(live) > 1 {
		// One run may fail for good (a record its storage refuses) and would fail every
		// group it lands in: store each run alone, so the others commit and only the
		// failing run's call fails (one room never stalls the others, ARCHITECTURE.md §5).
		for _, j := range live {
			a, jerr := c.db.StoreRoomEvents(gctx, j.run)
			j.err, j.done = jerr, true
			if jerr == nil {
				j.advs = a
				observeDelay("stored", []*groupJob{j}, time.Now())
				c.tellGroup(gctx, j.run, a)
				observeDelay("notified", []*groupJob{j}, time.Now())
			}
		}
		return
	}
	i := 0
	for _, j := range live {
		if err == nil {
			j.advs = advs[i : i+len(j.run)]
		}
		j.err, j.done = err, true
		i += len(j.run)
	}
	if err != nil {
		return
	}
	observeDelay("stored", live, time.Now())
	c.tellGroup(gctx, recs, advs)
	observeDelay("notified", live, time.Now())
}

// tellGroup tells the notifier what a group's commit made visible, once: the group's own
// events and state changes when they are exactly what became visible (ownAdvance), else
// what reading back the advance gives, as Handle does.
func (c *RoomEventConsumer) tellGroup(ctx context.Context, recs []storage.RoomEventAt, advs []storage.Advance) {
	adv, evs, deltas, own := ownAdvance(recs, advs)
	switch {
	case !adv.Advanced():
	case own:
		c.notifier.OnRoomAdvance(adv.From, adv.To, evs, deltas)
	default:
		_ = c.notify(ctx, adv)
	}
}

// ownAdvance is the watermark advance of records stored one after the other in one
// transaction with their Advances, and, when it moved exactly over the records' own new
// positions (own; in any order: a group's runs are interleaved with each other, and one
// room's record may fill a gap another's left), the events and state changes that became
// visible, in position order. It is not own when positions received before (above the
// old watermark) became visible too; a record still held back behind a gap does not count.
func ownAdvance(recs []storage.RoomEventAt, advs []storage.Advance) (adv storage.Advance, evs []storage.Event, deltas []storage.RoomStateDelta, own bool) {
	adv = storage.Advance{From: advs[0].From, To: advs[len(advs)-1].To}
	evs = make([]storage.Event, 0, len(recs))
	for i, r := range recs {
		if advs[i].Duplicate {
			continue
		}
		if r.Pos <= adv.From || r.Pos > adv.To {
			return adv, nil, nil, false // held back behind a gap
		}
		ev := r.Event.Event
		ev.StreamPos = r.Pos
		evs = append(evs, ev)
		for _, d := range r.Event.Applied {
			deltas = append(deltas, storage.RoomStateDelta{RoomID: ev.RoomID, StateDelta: d})
		}
	}
	// A new (non-duplicate) position is stored once, so len(evs) distinct positions
	// inside (From, To] cover it exactly when there are To-From of them.
	if int64(len(evs)) != adv.To-adv.From {
		return adv, nil, nil, false
	}
	slices.SortStableFunc(evs, func(a, b storage.Event) int { return cmp.Compare(a.StreamPos, b.StreamPos) })
	slices.SortStableFunc(deltas, func(a, b storage.RoomStateDelta) int { return cmp.Compare(a.Pos, b.Pos) })
	return adv, evs, deltas, true
}
