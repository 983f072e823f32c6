// Package writepos remembers where writes landed in a log stream, for read-your-writes:
// the producer of a stream (the roomserver for topic 2, the userapi for topic 1) records
// the newest position of each committed write under keys such as a room ID or a user ID,
// and a reader asks for the position it must have caught up with before it answers. See
// docs/wiring.md, "Read your own writes".
package writepos

import (
	"context"
	"sync"
)

// DefaultMaxKeys bounds a Tracker's keys: past it the tracker starts afresh and raises its
// floor over everything it forgot.
const DefaultMaxKeys = 100000

// Tracker maps keys to the newest stream position recorded for them. Only committed
// positions may be recorded, so a reader is never sent after a position that a
// rolled-back transaction gave back. What the map does not know — writes before this
// process started, and keys dropped when the map was full — is covered by the floor: the
// newest position assigned when the process started (Load) or recorded before the drop,
// at least as new as any such write. A Tracker is right only if its process sees every
// write of the stream (one roomserver, one userapi).
type Tracker struct {
	// Load reads the newest position assigned so far; it is called once, on the first
	// Position (again after an error).
	Load func(context.Context) (int64, error)
	// MaxKeys bounds the map (DefaultMaxKeys when 0).
	MaxKeys int

	mu     sync.Mutex
	loaded bool
	floor  int64
	keys   map[string]int64
	// newest is the newest position recorded before the current Record call: what a
	// dropped map can hold at most, so the floor it leaves.
	newest int64
}

// Record notes that a committed write at pos was for each of keys (newer positions win).
func (t *Tracker) Record(pos int64, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys == nil {
		t.keys = map[string]int64{}
	}
	for _, k := range keys {
		old, ok := t.keys[k]
		if ok {
			if pos > old {
				t.keys[k] = pos
			}
			continue
		}
		limit := t.MaxKeys
		if limit <= 0 {
			limit = DefaultMaxKeys
		}
		if len(t.keys) >= limit {
			t.floor = max(t.floor, t.newest)
			t.keys = map[string]int64{}
		}
		t.keys[k] = pos
	}
	t.newest = max(t.newest, pos)
}

// Position is the newest position recorded for any of keys ("" keys are skipped), or the
// floor when that is newer.
func (t *Tracker) Position(ctx context.Context, keys ...string) (int64, error) {
	t.mu.Lock()
	loaded := t.loaded
	t.mu.Unlock()
	if !loaded {
		// Outside the lock, so a slow database never holds up Record. Positions recorded
		// meanwhile are newer than any write the loaded value stands for, so taking the
		// larger one is exact.
		start, err := t.Load(ctx)
		if err != nil {
			return 0, err
		}
		t.mu.Lock()
		if !t.loaded {
			t.floor = max(t.floor, start)
			t.loaded = true
		}
		t.mu.Unlock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	pos := t.floor
	for _, k := range keys {
		if k != "" {
			pos = max(pos, t.keys[k])
		}
	}
	return pos, nil
}
