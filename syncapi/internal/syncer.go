package internal

import (
	"context"
	"sync/atomic"
	"time"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// Syncer serves /sync and the room endpoints from the syncapi's storage, at the positions
// its Notifier says are visible.
type Syncer struct {
	db       *storage.Database
	notifier *Notifier
	// rsAPI is arrow 2 (syncapi → roomserver): whether an event this instance lacks
	// exists (catchUpToEvent). May be nil.
	rsAPI   rsapi.RoomserverAPI
	drainCh atomic.Pointer[<-chan struct{}]
	// Now is the clock (unsigned.age); tests may replace it.
	Now func() time.Time
	// CatchUpLimit bounds the wait of a read for writes it must reflect (read your own
	// writes), and of /messages, /context and /event for a token or event this instance has
	// not reached yet (DefaultCatchUpLimit; config sync_api.read_your_writes_timeout).
	CatchUpLimit time.Duration
	// NoShortcuts turns off the incremental /sync's use of the Notifier's record of what
	// moved and of the membership cache: every answer comes from the database (tests
	// compare both paths).
	NoShortcuts bool
	// KeyAPI is arrow 16 (syncapi → keyserver): the device's key counts (keycounts.go).
	// May be nil: /sync then leaves the counts out.
	KeyAPI keyapi.KeyServerAPI
	// EDUAPI is arrow 18 (syncapi → eduserver): set_presence (presence.go) and where the
	// user's own topic 3 writes landed (read your writes). May be nil.
	EDUAPI eduapi.EDUServerAPI
	// ToDeviceHold, when set, bounds how far a /sync deletes the device's to-device
	// messages: no further than its live sync v3 sessions acknowledged (ok false: no such
	// session; internal/syncv3 Engine.ToDeviceHold).
	ToDeviceHold func(ctx context.Context, userID, deviceID string) (upTo int64, ok bool, err error)
	// NoUnreadCounts leaves unread_notifications out of /sync and the counts out of sync
	// v3's room_list (config sync_api.unread_counts false; unread.go).
	NoUnreadCounts  bool
	unread          unreadState // unread notification counts (unread.go)
	members         memberCache
	reads           sharedReads
	presenceReports presenceReports
	toDeviceAcks    toDeviceAcks // group commit of to-device deletes (todeviceacks.go)
}

// NewSyncer builds the engine; rsAPI (arrow 2) may be nil.
func NewSyncer(db *storage.Database, n *Notifier, rsAPI rsapi.RoomserverAPI) *Syncer {
	return &Syncer{db: db, notifier: n, rsAPI: rsAPI, Now: time.Now, CatchUpLimit: DefaultCatchUpLimit}
}

// SyncRequest is a parsed GET /sync.
type SyncRequest struct {
	UserID, DeviceID string
	// Since is nil for an initial sync.
	Since     *types.StreamToken
	Timeout   time.Duration
	FullState bool
	Filter    *Filter
	// AccountDataPos is the topic 1 position of the user's own newest account-data write
	// (userapi Device.AccountDataPos): the response must reflect it (read your writes).
	AccountDataPos int64
	// SetPresence is the set_presence parameter ("" for none: online).
	SetPresence string
	// ignored is the user's ignore list, looked up once per build (ignore.go).
	ignored IgnoreList
}

// Sync answers a /sync request. An incremental sync with nothing new waits up to Timeout
// for the Notifier to report something for the user, then answers at once. A wait also
// ends, with an empty response, when shutdown begins (SetDraining).
func (s *Syncer) Sync(ctx context.Context, req *SyncRequest) (*SyncResponse, error) {
	resp, err := s.sync(ctx, req)
	if err != nil {
		return nil, err
	}
	s.addKeyCounts(ctx, req, resp)
	return resp, nil
}

// sync is Sync without the key counts.
func (s *Syncer) sync(ctx context.Context, req *SyncRequest) (*SyncResponse, error) {
	if req.Filter == nil {
		req.Filter = &Filter{}
	}
	// Read your writes: the user's own newest room write (arrow 2) and account data,
	// whatever the since token says (an initial sync too).
	s.setPresence(ctx, req) // arrow 18 (presence.go)
	if err := s.catchUpToWrites(ctx, WritesToReflect{Endpoint: "sync", UserID: req.UserID, AccountDataPos: req.AccountDataPos,
		EDUWrites: true, KeyWrites: true}); err != nil {
		return nil, err
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
		if req.Since != nil && req.Since.IsAfter(pos) {
			// The token comes from an instance that is further ahead: wait until this one
			// has caught up rather than answer from behind the client.
			select {
			case <-moved:
				continue
			case <-deadline:
				return newSyncResponse(*req.Since), nil
			case <-s.draining():
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
		if now := s.notifier.Position(); !now.SamePositions(pos) {
			continue // something arrived while building: look again
		}
		select {
		case <-l.C:
			continue
		case <-deadline:
			// Nothing for this user; answer at the newest position so the next request
			// does not look at the same positions again.
			if now := s.notifier.Position(); !now.SamePositions(pos) {
				resp, _, err = s.build(ctx, req, now)
			}
			return resp, err
		case <-s.draining():
			return resp, nil // empty, at pos: the client resumes from here elsewhere
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
