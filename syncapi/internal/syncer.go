package internal

import (
	"context"
	"time"

	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// Syncer serves /sync and the room endpoints from the syncapi's storage, at the positions
// its Notifier says are visible.
type Syncer struct {
	db       *storage.Database
	notifier *Notifier
	// Now is the clock (unsigned.age); tests may replace it.
	Now func() time.Time
}

// NewSyncer builds the engine.
func NewSyncer(db *storage.Database, n *Notifier) *Syncer {
	return &Syncer{db: db, notifier: n, Now: time.Now}
}

// SyncRequest is a parsed GET /sync.
type SyncRequest struct {
	UserID, DeviceID string
	// Since is nil for an initial sync.
	Since     *types.StreamToken
	Timeout   time.Duration
	FullState bool
	Filter    *Filter
}

// Sync answers a /sync request. An incremental sync with nothing new waits up to Timeout
// for the Notifier to report something for the user, then answers at once.
func (s *Syncer) Sync(ctx context.Context, req *SyncRequest) (*SyncResponse, error) {
	if req.Filter == nil {
		req.Filter = &Filter{}
	}
	l := s.notifier.Listen(req.UserID)
	defer l.Close()
	var deadline <-chan time.Time
	if req.Timeout > 0 {
		t := time.NewTimer(req.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		moved := s.notifier.WaitFor()
		pos := s.notifier.Position()
		if req.Since != nil && (req.Since.Room > pos.Room || req.Since.AccountData > pos.AccountData) {
			// The token comes from an instance that is further ahead: wait until this one
			// has caught up rather than answer from behind the client.
			select {
			case <-moved:
				continue
			case <-deadline:
				return newSyncResponse(*req.Since), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		resp, rooms, err := s.build(ctx, req, pos)
		if err != nil {
			return nil, err
		}
		if req.Since == nil || req.FullState || !resp.IsEmpty() || deadline == nil {
			return resp, nil
		}
		l.SetRooms(rooms)
		if now := s.notifier.Position(); now.Room != pos.Room || now.AccountData != pos.AccountData {
			continue // something arrived while building: look again
		}
		select {
		case <-l.C:
			continue
		case <-deadline:
			// Nothing for this user; answer at the newest position so the next request
			// does not look at the same positions again.
			if now := s.notifier.Position(); now.Room != pos.Room || now.AccountData != pos.AccountData {
				resp, _, err = s.build(ctx, req, now)
			}
			return resp, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
