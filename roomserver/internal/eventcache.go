package internal

import (
	"sync"

	"github.com/axon-matrix/axon/matrix"
)

// eventCache keeps parsed events by event ID across requests, so the auth events of a busy
// room (create, power levels, members) are not parsed again for every message. Event IDs
// are unique and an event's JSON only changes when it is redacted, which evicts it. When
// full it starts afresh (cheap, and hot events come straight back).
type eventCache struct {
	mu     sync.Mutex
	max    int
	events map[string]matrix.PDU
}

func newEventCache(max int) *eventCache {
	return &eventCache{max: max, events: make(map[string]matrix.PDU, max)}
}

func (c *eventCache) get(id string) matrix.PDU {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events[id]
}

func (c *eventCache) put(e matrix.PDU) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.events) >= c.max {
		c.events = make(map[string]matrix.PDU, c.max)
	}
	c.events[e.EventID()] = e
}

func (c *eventCache) evict(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.events, id)
}
