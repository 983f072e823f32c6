package stateres

import (
	"context"
	"fmt"

	"github.com/axon-matrix/axon/matrix"
)

// eventCache loads events through the EventFetcher in batches and remembers them, and
// which IDs the fetcher did not know, for the rest of one resolution.
type eventCache struct {
	ctx     context.Context
	fetch   EventFetcher
	events  map[string]matrix.PDU
	missing map[string]bool
}

func newEventCache(ctx context.Context, fetch EventFetcher) *eventCache {
	return &eventCache{ctx: ctx, fetch: fetch, events: map[string]matrix.PDU{}, missing: map[string]bool{}}
}

// load fetches, in one call, those of ids not yet known.
func (c *eventCache) load(ids []string) error {
	var want []string
	for _, id := range ids {
		if _, ok := c.events[id]; ok || c.missing[id] {
			continue
		}
		want = append(want, id)
		c.missing[id] = true // until the fetch says otherwise; also dedups want
	}
	if len(want) == 0 {
		return nil
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	got, err := c.fetch(c.ctx, want)
	if err != nil {
		for _, id := range want {
			delete(c.missing, id)
		}
		return fmt.Errorf("stateres: fetching events: %w", err)
	}
	for _, e := range got {
		if e == nil {
			continue
		}
		c.events[e.EventID()] = e
		delete(c.missing, e.EventID())
	}
	return nil
}

// get returns the event with ID id, or nil if the fetcher does not know it.
func (c *eventCache) get(id string) (matrix.PDU, error) {
	if e, ok := c.events[id]; ok {
		return e, nil
	}
	if c.missing[id] {
		return nil, nil
	}
	if err := c.load([]string{id}); err != nil {
		return nil, err
	}
	return c.events[id], nil
}

// mustGet is get for events the algorithm cannot do without.
func (c *eventCache) mustGet(id string) (matrix.PDU, error) {
	e, err := c.get(id)
	if err == nil && e == nil {
		err = fmt.Errorf("stateres: event %s not found", id)
	}
	return e, err
}

// loadAuthEvents loads the auth events of every event in evs in one batch.
func (c *eventCache) loadAuthEvents(evs []matrix.PDU) error {
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.AuthEventIDs()...)
	}
	return c.load(ids)
}
