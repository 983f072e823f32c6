package internal

import (
	"context"
	"sync"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// maxHeldKeyChanges bounds the topic 7 changes the Notifier holds in memory; past it the
// oldest are dropped and older windows read the database.
const maxHeldKeyChanges = 20000

// keyChanges is what topic 7 (keyserver → syncapi) made known, kept in memory so that an
// incremental /sync whose key change window holds only other people's changes costs no
// query: each change since this process started, with the rooms its user was joined to
// when it was consumed. The topic 7 consumer adds a change (KeyChangeStored) before it
// tells the Notifier the new position (OnKeyChange).
type keyChanges struct {
	mu sync.Mutex
	// from: every change at a position > from is held in byPos.
	from  int64
	byPos map[int64]heldKeyChange
}

// heldKeyChange is one change held in memory.
type heldKeyChange struct {
	userID   string
	audience []string
	rooms    []string // the user's joined rooms when the change was consumed
}

func newKeyChanges(start int64) keyChanges {
	return keyChanges{from: start, byPos: map[int64]heldKeyChange{}}
}

// KeyChangeStored records a change stored at pos; rooms are its user's joined rooms.
func (n *Notifier) KeyChangeStored(pos int64, c storage.KeyChange, rooms []string) {
	k := &n.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	if pos <= k.from {
		return
	}
	k.byPos[pos] = heldKeyChange{userID: c.UserID, audience: c.Audience, rooms: rooms}
	for len(k.byPos) > maxHeldKeyChanges {
		// Drop the oldest; windows starting before them read the database.
		k.from++
		delete(k.byPos, k.from)
	}
}

// keyChangesBetween returns the held changes at positions in (after, upTo] and their
// users' rooms, or ok false when the window starts before what is held.
func (n *Notifier) keyChangesBetween(after, upTo int64) (changes []storage.KeyChange, rooms [][]string, ok bool) {
	k := &n.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	if after < k.from {
		return nil, nil, false
	}
	for p := after + 1; p <= upTo; p++ {
		h, held := k.byPos[p]
		if !held {
			return nil, nil, false // not consumed here yet (the window is past the watermark)
		}
		changes = append(changes, storage.KeyChange{Pos: p, UserID: h.userID, Audience: h.audience})
		rooms = append(rooms, h.rooms)
	}
	return changes, rooms, true
}

// keyChangeTargets returns whom the held changes at positions in (after, upTo] concern:
// their users' rooms, and their users or audiences (whom to wake when a gap closed).
func (n *Notifier) keyChangeTargets(after, upTo int64) (rooms, users []string) {
	k := &n.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	for p := after + 1; p <= upTo; p++ {
		if h, ok := k.byPos[p]; ok {
			rooms, users = append(rooms, h.rooms...), append(append(users, h.userID), h.audience...)
		}
	}
	return rooms, users
}

// OnKeyChange is called by the topic 7 consumer after the key change watermark moved to
// pos: it wakes the listeners of rooms (the changed users' rooms) and of users.
func (n *Notifier) OnKeyChange(pos int64, rooms, users []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if pos > n.pos.KeyChange {
		n.pos.KeyChange = pos
		n.moved()
	}
	for _, r := range rooms {
		wakeAll(n.byRoom[r])
	}
	for _, u := range users {
		wakeAll(n.byUser[u])
	}
}

// KeyChangeTargets is keyChangeTargets for the consumer.
func (n *Notifier) KeyChangeTargets(after, upTo int64) (rooms, users []string) {
	return n.keyChangeTargets(after, upTo)
}

// JoinedRoomsOf returns the rooms userID is joined to at the room position this instance
// serves (the topic 7 consumer records them with each change).
func JoinedRoomsOf(ctx context.Context, db *storage.Database, n *Notifier, userID string) ([]string, error) {
	ms, err := db.MembershipsAt(ctx, userID, n.Position().Room)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if m.Membership == "join" {
			out = append(out, m.RoomID)
		}
	}
	return out, nil
}
