package internal

import "sync"

// roomLocks serialises writes per room so that each new event's prev_events are the room's
// forward extremities at the time of writing, and no two events of a room race on them.
// Different rooms proceed in parallel. This is an in-process lock: the monolith and the
// polylith each run exactly one roomserver, so one process owns all writes to its rooms.
type roomLocks struct {
	mu    sync.Mutex
	rooms map[string]*roomLock
}

type roomLock struct {
	mu   sync.Mutex
	refs int
}

// lock locks roomID and returns its unlock function.
func (l *roomLocks) lock(roomID string) func() {
	l.mu.Lock()
	if l.rooms == nil {
		l.rooms = map[string]*roomLock{}
	}
	rl := l.rooms[roomID]
	if rl == nil {
		rl = &roomLock{}
		l.rooms[roomID] = rl
	}
	rl.refs++
	l.mu.Unlock()
	rl.mu.Lock()
	return func() {
		rl.mu.Unlock()
		l.mu.Lock()
		rl.refs--
		if rl.refs == 0 {
			delete(l.rooms, roomID)
		}
		l.mu.Unlock()
	}
}
