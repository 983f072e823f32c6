package internal

import (
	"sync"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// roomHead is what every write to a room reads first (arrow 4: computing prev/auth events):
// the room row, its forward extremities with their depths, and the current state entries
// that writes have looked up (the auth events: create, power levels, join rules, members).
// It is kept in memory between writes so that a message costs no reads of them. Only the
// holder of the room's lock uses a head: writeRoom takes it out of roomHeads, the writer
// updates it as it writes, and it goes back only after the transaction committed and only if
// every change the transaction made to the room's state and extremities was applied to it
// (the forked and state resolution paths mark it stale). A failed or rolled-back write
// drops it, and the next write reads the room afresh.
type roomHead struct {
	room storage.Room
	// extremities maps the forward extremities' event IDs to their depths; nil when not
	// loaded yet.
	extremities map[string]int64
	// state holds current state entries by tuple; a zero StateRef records that the tuple is
	// not in the current state. Tuples never looked up are absent.
	state map[matrix.StateKeyTuple]storage.StateRef
	// joined holds the room's joined members and servers how many of them each server
	// has: topic 6's destinations, kept here so that a message in a room with no other
	// server costs no query (writer.go, federationDestinations). Both nil until loaded.
	joined  map[string]struct{}
	servers map[string]int
}

// setJoined loads the joined members (once per head).
func (h *roomHead) setJoined(members []string) {
	h.joined = make(map[string]struct{}, len(members))
	h.servers = map[string]int{}
	for _, m := range members {
		h.noteMembership(m, true)
	}
}

// noteMembership follows a membership change in joined and servers, once loaded.
func (h *roomHead) noteMembership(userID string, joined bool) {
	if h.joined == nil {
		return
	}
	_, was := h.joined[userID]
	if was == joined {
		return
	}
	server, _ := matrix.ServerNameOf(userID)
	if joined {
		h.joined[userID] = struct{}{}
		h.servers[server]++
		return
	}
	delete(h.joined, userID)
	if h.servers[server]--; h.servers[server] <= 0 {
		delete(h.servers, server)
	}
}

func newRoomHead(room storage.Room) *roomHead {
	return &roomHead{room: room, state: map[matrix.StateKeyTuple]storage.StateRef{}}
}

// roomHeads holds the heads of rooms between writes. When full it starts afresh (a dropped
// head costs one read of the room on its next write).
type roomHeads struct {
	mu    sync.Mutex
	max   int
	heads map[string]*roomHead
}

func newRoomHeads(max int) *roomHeads {
	return &roomHeads{max: max, heads: map[string]*roomHead{}}
}

// take removes and returns roomID's head, or nil. Call it under the room's lock.
func (h *roomHeads) take(roomID string) *roomHead {
	h.mu.Lock()
	defer h.mu.Unlock()
	head := h.heads[roomID]
	delete(h.heads, roomID)
	return head
}

// put keeps roomID's head for its next write. Call it under the room's lock, after the
// commit.
func (h *roomHeads) put(roomID string, head *roomHead) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.heads) >= h.max {
		h.heads = map[string]*roomHead{}
	}
	h.heads[roomID] = head
}
