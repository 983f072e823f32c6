package internal

import (
	"context"
	"sync"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// maxSharedReads bounds the shared reads kept; past it they start afresh.
const maxSharedReads = 4096

// sharedReads lets the /sync requests that one topic 2 event woke (its room's members, all
// at the same position and usually from the same token) read a room's new timeline events
// and the timeline senders' membership events once between them: the first request reads,
// the others wait for its result. Results for windows at or below the watermark do not
// change except by a redaction, so they are kept (bounded) and tagged with the Notifier's
// redaction generation; a redaction makes them all stale. Visibility and filters are still
// applied per user on the shared events, which are never modified; each carries a Derived
// (parsedevent.go) so that it is parsed and rendered once for all of them.
type sharedReads struct {
	mu      sync.Mutex
	entries map[readKey]*sharedRead
}

type readKey struct {
	kind       uint8 // readTimeline, readMember
	room, user string
	from, to   int64
}

const (
	readTimeline uint8 = iota
	readMember
)

type sharedRead struct {
	done chan struct{}
	gen  uint64
	evs  []storage.Event
	err  error
}

// shared returns read()'s result for key, from another request's read when there is one.
func (s *Syncer) shared(ctx context.Context, key readKey, read func() ([]storage.Event, error)) ([]storage.Event, error) {
	if s.NoShortcuts {
		return read()
	}
	r := &s.reads
	gen := s.notifier.RedactionGen()
	r.mu.Lock()
	if e, ok := r.entries[key]; ok && e.gen == gen {
		r.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err == nil {
			return e.evs, nil
		}
		return read() // the reader failed (its request ended, say): read for ourselves
	}
	if r.entries == nil || len(r.entries) >= maxSharedReads {
		r.entries = map[readKey]*sharedRead{}
	}
	e := &sharedRead{done: make(chan struct{}), gen: gen}
	r.entries[key] = e
	r.mu.Unlock()
	e.evs, e.err = read()
	if e.err == nil {
		// Each event is parsed and rendered once for all the requests sharing it.
		withDerived(e.evs)
	}
	close(e.done)
	if e.err != nil {
		r.mu.Lock()
		if r.entries[key] == e {
			delete(r.entries, key)
		}
		r.mu.Unlock()
	}
	return e.evs, e.err
}
