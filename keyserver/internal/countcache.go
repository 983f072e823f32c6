package internal

import (
	"sync"

	"github.com/axon-matrix/axon/keyserver/api"
)

// maxCachedDevices bounds countCache; past it the cache starts afresh.
const maxCachedDevices = 100000

// countCache keeps each device's key counts (QueryKeyCounts: what every /sync of the
// device asks, arrow 16) in memory, so the common answer costs a map lookup instead of a
// database query. Every write that changes a device's counts (an upload, a claim, a
// deletion) forgets its entry after its commit; forget also bumps gen, and a read fills
// the cache only if gen did not move while it read the database, so a read that raced
// with a write never puts old counts back. The polylith runs one keyserver, which sees
// every write.
type countCache struct {
	mu      sync.Mutex
	gen     uint64
	n       int
	devices map[string]map[string]*api.QueryKeyCountsResponse // user → device → counts
}

// get returns a copy-free cached answer (callers must not modify it) and the generation
// to pass to put on a miss.
func (c *countCache) get(userID, deviceID string) (*api.QueryKeyCountsResponse, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.devices[userID][deviceID], c.gen
}

// put caches resp unless a write forgot anything since gen.
func (c *countCache) put(userID, deviceID string, resp *api.QueryKeyCountsResponse, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.devices == nil || c.n >= maxCachedDevices {
		c.devices, c.n = map[string]map[string]*api.QueryKeyCountsResponse{}, 0
	}
	devs := c.devices[userID]
	if devs == nil {
		devs = map[string]*api.QueryKeyCountsResponse{}
		c.devices[userID] = devs
	}
	if _, ok := devs[deviceID]; !ok {
		c.n++
	}
	devs[deviceID] = resp
}

// forget drops the entries of userID's deviceIDs (all of the user's with none given).
func (c *countCache) forget(userID string, deviceIDs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	devs := c.devices[userID]
	if len(deviceIDs) == 0 {
		c.n -= len(devs)
		delete(c.devices, userID)
		return
	}
	for _, d := range deviceIDs {
		if _, ok := devs[d]; ok {
			delete(devs, d)
			c.n--
		}
	}
}
