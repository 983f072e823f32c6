package internal

import (
	"sync"

	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// Notifier holds the positions this instance may serve (the watermarks of topics 1, 2 and
// 3) and wakes long-polling /sync requests at once when something for their user becomes
// visible: an event, a typing change or a receipt in a room they are in, a membership
// event about them, their account data or a to-device message for them. Listeners are indexed by user and by room, so an event wakes only the requests it
// concerns; nothing polls.
type Notifier struct {
	mu      sync.Mutex
	pos     types.StreamToken
	byUser  map[string]map[*Listener]struct{}
	byRoom  map[string]map[*Listener]struct{}
	advance chan struct{} // closed and replaced whenever pos moves
	moves   moves
	// redactions counts the redactions stored (OnRedaction): shared reads made before one
	// may hold the unredacted content.
	redactions uint64
	// ignores are the users' ignore lists (topic 1, ignore.go), under their own lock.
	ignores ignoreLists
	// edu is what topic 3 made known (edustate.go), under its own lock.
	edu eduState
	// keys is what topic 7 made known (keychangestate.go), under its own lock.
	keys keyChanges
	// presence is topic 3's presence (presence.go), under its own lock.
	presence presenceState
}

// NewNotifier starts at the given positions (the persisted watermarks).
func NewNotifier(start types.StreamToken) *Notifier {
	return &Notifier{pos: start, byUser: map[string]map[*Listener]struct{}{}, byRoom: map[string]map[*Listener]struct{}{},
		advance: make(chan struct{}), moves: newMoves(start.Room), edu: newEDUState(), keys: newKeyChanges(start.KeyChange)}
}

// Listener is one waiting /sync request.
type Listener struct {
	n      *Notifier
	userID string
	rooms  []string
	// C receives a value when something for the listener became visible.
	C chan struct{}
}

// Position is the token this instance can serve now.
func (n *Notifier) Position() types.StreamToken {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pos
}

// Listen registers a listener for userID. Register before reading the position a response
// is built at, so nothing that becomes visible afterwards is missed. Close it when done.
func (n *Notifier) Listen(userID string) *Listener {
	l := &Listener{n: n, userID: userID, C: make(chan struct{}, 1)}
	n.mu.Lock()
	defer n.mu.Unlock()
	add(n.byUser, userID, l)
	return l
}

// SetRooms sets the rooms whose events wake the listener (the user's joined and invited rooms).
func (l *Listener) SetRooms(rooms []string) {
	n := l.n
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, r := range l.rooms {
		remove(n.byRoom, r, l)
	}
	l.rooms = append(l.rooms[:0], rooms...)
	for _, r := range l.rooms {
		add(n.byRoom, r, l)
	}
}

// Close unregisters the listener.
func (l *Listener) Close() {
	n := l.n
	n.mu.Lock()
	defer n.mu.Unlock()
	remove(n.byUser, l.userID, l)
	for _, r := range l.rooms {
		remove(n.byRoom, r, l)
	}
	l.rooms = nil
}

// WaitFor returns a channel that is closed once the position moved past the one read by
// the caller; used when a client's token is ahead of this instance.
func (n *Notifier) WaitFor() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.advance
}

// OnRoomEvents is called by the topic 2 consumer after the room watermark moved to pos;
// events are the timeline events that became visible. It wakes the listeners of each
// event's room and the target of each membership event (an invite reaches a user who is in
// none of the room's listeners yet). What moved is not known in detail, so the record of
// moves starts afresh at pos.
func (n *Notifier) OnRoomEvents(pos int64, events []storage.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.moves.untracked(pos)
	n.onRoomEvents(pos, events)
}

// OnRoomAdvance is OnRoomEvents when the consumer knows exactly what moved: the watermark
// moved from `from` to `to`, events are all the timeline events and deltas all the state
// changes at positions in (from, to]; the record of moves keeps them.
func (n *Notifier) OnRoomAdvance(from, to int64, events []storage.Event, deltas []storage.RoomStateDelta) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.moves.report(from, moveReport{to: to, exact: true, events: events, deltas: deltas})
	n.onRoomEvents(to, events)
}

func (n *Notifier) onRoomEvents(pos int64, events []storage.Event) {
	if pos > n.pos.Room {
		n.pos.Room = pos
		n.moved()
	}
	for i := range events {
		e := &events[i]
		wakeAll(n.byRoom[e.RoomID])
		if e.Type == "m.room.member" && e.StateKey != nil {
			wakeAll(n.byUser[*e.StateKey])
		}
	}
}

// OnAccountData is called by the topic 1 consumer after the account data watermark moved
// to pos; users are those whose data became visible.
func (n *Notifier) OnAccountData(pos int64, users []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if pos > n.pos.AccountData {
		n.pos.AccountData = pos
		n.moved()
	}
	for _, u := range users {
		wakeAll(n.byUser[u])
	}
}

// OnRedaction is called by the topic 2 consumer after storing a redaction, which changed an
// event already stored.
func (n *Notifier) OnRedaction() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.redactions++
}

// RedactionGen is the number of redactions stored so far (OnRedaction).
func (n *Notifier) RedactionGen() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.redactions
}

func (n *Notifier) moved() {
	close(n.advance)
	n.advance = make(chan struct{})
}

func wakeAll(ls map[*Listener]struct{}) {
	for l := range ls {
		select {
		case l.C <- struct{}{}:
		default: // already woken
		}
	}
}

func add(m map[string]map[*Listener]struct{}, k string, l *Listener) {
	s := m[k]
	if s == nil {
		s = map[*Listener]struct{}{}
		m[k] = s
	}
	s[l] = struct{}{}
}

func remove(m map[string]map[*Listener]struct{}, k string, l *Listener) {
	if s := m[k]; s != nil {
		delete(s, l)
		if len(s) == 0 {
			delete(m, k)
		}
	}
}
