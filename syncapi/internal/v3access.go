package internal

import (
	"context"
	"sync"
)

// maxV3AccessEntries bounds the sync v3 access cache; past it the cache starts afresh.
const maxV3AccessEntries = 100000

// v3AccessCache keeps, per (room, user), the access decision of a user joined to the
// room (or of a world readable room) and the room position it was read at, so that the
// room stream's many wakes (topic 2: every event of a watched room wakes every session
// watching it) do not reload the user's membership and the room's history visibility each
// time. An entry is served at a later position only when the Notifier's record of moves
// proves the room's state (memberships and history visibility are state) changed in no
// way in between; a leave, a ban, a visibility change reload it. A user who left is never
// cached (their forget is not state). The entries are shared read-only.
type v3AccessCache struct {
	mu      sync.Mutex
	entries map[[2]string]v3AccessEntry
}

type v3AccessEntry struct {
	at  int64
	vis *roomVisibility
}

// access is Syncer.access through the cache.
func (v *V3Source) access(ctx context.Context, roomID, userID string) (*roomAccess, error) {
	s := v.s
	if s.NoShortcuts {
		return s.access(ctx, roomID, userID)
	}
	key := [2]string{roomID, userID}
	pos := s.notifier.Position().Room
	v.cache.mu.Lock()
	e, ok := v.cache.entries[key]
	v.cache.mu.Unlock()
	if ok && e.at <= pos && s.notifier.RoomStateQuiet(roomID, e.at, pos) {
		vis := *e.vis
		vis.ignored = s.notifier.IgnoredBy(userID) // the ignore list is not room state
		v.cache.put(key, v3AccessEntry{at: pos, vis: e.vis})
		return &roomAccess{vis: &vis, upTo: pos}, nil
	}
	acc, err := s.access(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	if acc.vis.current() == "join" || acc.vis.worldReadableNow() {
		// Read at acc.upTo (the position access read, at least pos).
		shared := *acc.vis
		shared.ignored = nil
		v.cache.put(key, v3AccessEntry{at: acc.upTo, vis: &shared})
	}
	return acc, nil
}

// put stores an entry unless a newer one is there.
func (c *v3AccessCache) put(key [2]string, e v3AccessEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxV3AccessEntries {
		c.entries = map[[2]string]v3AccessEntry{}
	}
	if old, ok := c.entries[key]; !ok || old.at < e.at {
		c.entries[key] = e
	}
}
