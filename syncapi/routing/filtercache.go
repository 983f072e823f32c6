package routing

import (
	"sync"

	"github.com/axon-matrix/axon/syncapi/internal"
)

// defaultMaxFilters bounds the parsed /sync filters kept; past it the oldest goes.
const defaultMaxFilters = 2048

// maxInlineFilterKey is the longest inline filter kept: a longer one is parsed on every
// request rather than pinned in memory.
const maxInlineFilterKey = 4096

// filterKey names a parsed filter: a stored filter by its owner and ID (the spec makes a
// stored filter immutable once created, so the pair always means the same filter), an
// inline filter by its text.
type filterKey struct {
	user, id string
	text     string
}

// filterCache keeps parsed /sync filters so that a long-polling client's request, which
// sends the same filter every time, costs neither the userapi round trip for its stored
// filter (every Tier 1 → userapi) nor the JSON parsing. Failures (unknown filter, bad
// JSON, the userapi unreachable) are not kept. Filters are shared between requests, which
// only read them. The zero value is ready; max 0 means defaultMaxFilters.
type filterCache struct {
	mu    sync.Mutex
	max   int
	m     map[filterKey]*internal.Filter
	order []filterKey // keys in insertion order, a ring once full
	next  int         // the oldest key's index in order once full
}

// get returns the filter for key, calling load on a miss and keeping its result.
func (c *filterCache) get(key filterKey, load func() (*internal.Filter, error)) (*internal.Filter, error) {
	c.mu.Lock()
	f, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := load()
	if err != nil || len(key.text) > maxInlineFilterKey {
		return f, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return f, nil // another request loaded it meanwhile
	}
	max := c.max
	if max <= 0 {
		max = defaultMaxFilters
	}
	if c.m == nil {
		c.m = map[filterKey]*internal.Filter{}
	}
	if len(c.order) < max {
		c.order = append(c.order, key)
	} else {
		delete(c.m, c.order[c.next])
		c.order[c.next] = key
		c.next = (c.next + 1) % max
	}
	c.m[key] = f
	return f, nil
}

// len is the number of filters kept.
func (c *filterCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
