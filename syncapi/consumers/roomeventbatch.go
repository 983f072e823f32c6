package consumers

import (
	"context"
	"encoding/json"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// MaxBatch is the most topic 2 records of one room HandleBatch is given at once
// (eventlog.Consumer.ConsumeBatch).
const MaxBatch = 64

// HandleBatch is the eventlog.BatchHandler for topic 2: msgs are consecutive records of
// one room. Consecutive new-event records whose added state is at most the event itself
// (nothing to fetch from the roomserver over arrow 2) are stored in one transaction
// (storage.StoreRoomEvents) — together with the runs other rooms' calls stored at the same
// time (storeRun, groupcommit.go) — and the notifier is told once for them. Every other record
// (redactions, forgets, records whose added state may need a fetch, undecodable or unknown ones)
// goes through Handle, in its place in the order. Like Handle it is idempotent: a replayed
// run changes nothing and tells the notifier nothing; after an error the log delivers the
// whole run again.
func (c *RoomEventConsumer) HandleBatch(ctx context.Context, msgs []eventlog.Message) error {
	var run []storage.RoomEventAt
	var staged []time.Time // run's staging times on the roomserver (metrics.go)
	received := time.Now()
	for _, m := range msgs {
		if r, ok := storable(m); ok {
			run = append(run, r)
			t, ok := eventlog.StagedAt(m)
			if ok {
				roomEventDelay.WithLabelValues("received").Observe(received.Sub(t).Seconds())
			}
			staged = append(staged, t)
			continue
		}
		if err := c.storeRunStaged(ctx, run, staged); err != nil {
			return err
		}
		run, staged = run[:0], staged[:0]
		if err := c.Handle(ctx, m); err != nil {
			return err
		}
	}
	return c.storeRunStaged(ctx, run, staged)
}

// storable returns the record of a new-event message that can be stored without a fetch:
// a decodable event at a position, adding no state but its own.
func storable(m eventlog.Message) (storage.RoomEventAt, bool) {
	var out rsapi.OutputEvent
	if json.Unmarshal(m.Value, &out) != nil || out.Type != rsapi.OutputNewRoomEvent || out.StreamPos <= 0 {
		return storage.RoomEventAt{}, false
	}
	rec := newRecord(out.NewRoomEvent, m.Key)
	if rec == nil {
		return storage.RoomEventAt{}, false
	}
	for _, id := range out.NewRoomEvent.AddsStateEventIDs {
		if id != rec.Event.EventID {
			return storage.RoomEventAt{}, false
		}
	}
	rec.AddsStateEventIDs = out.NewRoomEvent.AddsStateEventIDs
	return storage.RoomEventAt{Pos: out.StreamPos, Event: rec}, true
}
