package internal

import (
	"context"
	"encoding/json"
	"time"

	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// DefaultCatchUpLimit bounds how long /messages, /context and /event wait for this
// instance to catch up with a token or an event that another sync instance has already
// served (ARCHITECTURE.md §7: any instance serves any token).
const DefaultCatchUpLimit = 5 * time.Second

// SetDraining hands the Syncer a channel that is closed when the process starts shutting
// down (setup.Base.Draining). A long-poll waiting when it closes answers at once with what
// it has (an empty response at the current position), and waits for catching up end, so
// a /sync in flight does not hold shutdown up to the drain limit.
func (s *Syncer) SetDraining(ch <-chan struct{}) {
	s.drainCh.Store(&ch)
}

// isDraining reports whether shutdown has begun.
func (s *Syncer) isDraining() bool {
	select {
	case <-s.draining():
		return true
	default:
		return false
	}
}

// draining is the channel given to SetDraining, or nil (never ready) without one.
func (s *Syncer) draining() <-chan struct{} {
	if p := s.drainCh.Load(); p != nil {
		return *p
	}
	return nil
}

// catchUp waits until ready(the positions this instance may serve) is true, the
// positions moving as the Notifier reports (the watermarks of topics 2 and 1), for at most
// CatchUpLimit, the request's context or the start of shutdown. Giving up is not an error:
// the caller then answers from what this instance has; reached says whether ready became
// true (false after the limit or when shutdown began).
func (s *Syncer) catchUp(ctx context.Context, ready func(now types.StreamToken) (bool, error)) (reached bool, err error) {
	var limit <-chan time.Time
	for {
		moved := s.notifier.WaitFor()
		ok, err := ready(s.notifier.Position())
		if err != nil || ok {
			return ok, err
		}
		if limit == nil {
			t := time.NewTimer(s.CatchUpLimit)
			defer t.Stop()
			limit = t.C
		}
		select {
		case <-moved:
		case <-limit:
			return false, nil
		case <-s.draining():
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// catchUpToPos waits (bounded, see catchUp) until this instance serves room position pos:
// a pagination token from an instance that is further ahead.
func (s *Syncer) catchUpToPos(ctx context.Context, pos int64) error {
	_, err := s.catchUp(ctx, func(now types.StreamToken) (bool, error) { return now.Room >= pos, nil })
	return err
}

// catchUpToEvent reads a timeline event by ID. When this instance does not serve it yet
// but the roomserver knows it in roomID (arrow 2, QueryEvent: the client saw it through
// another instance), it waits (bounded, see catchUp) until the event is on this instance's
// timeline. It returns the event as stored here, or nil.
func (s *Syncer) catchUpToEvent(ctx context.Context, roomID, eventID string) (*storage.Event, error) {
	e, err := s.db.EventByID(ctx, eventID)
	if err != nil || s.served(e) || s.rsAPI == nil {
		return e, err
	}
	res, err := s.rsAPI.QueryEvent(ctx, eventID)
	if err != nil {
		return e, nil // unknown upstream too (or the roomserver unreachable): answer from here
	}
	var hdr struct {
		RoomID string `json:"room_id"`
	}
	if json.Unmarshal(res.Event, &hdr) != nil || hdr.RoomID != roomID {
		return e, nil
	}
	_, err = s.catchUp(ctx, func(types.StreamToken) (bool, error) {
		var err error
		e, err = s.db.EventByID(ctx, eventID)
		return s.served(e), err
	})
	return e, err
}

// served is whether e is on the timeline at a position this instance serves (backfilled
// history, at negative positions, always is: storage/backfill.go).
func (s *Syncer) served(e *storage.Event) bool {
	return e != nil && e.StreamPos != 0 && e.StreamPos <= s.notifier.Position().Room
}
