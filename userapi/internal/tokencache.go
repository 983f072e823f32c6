package internal

import (
	"sync"
	"time"

	"github.com/axon-matrix/axon/userapi/storage"
)

// tokenCache keeps recently verified access tokens in memory, keyed by token hash, so the
// hot path of every request (QueryAccessToken) usually costs no query at all.
//
// Correctness: every change that ends a token (logout, device deletion or replacement,
// password change with logout, deactivation) calls forget after its transaction committed.
// forget also bumps gen; a lookup remembers gen before it reads the database and may only
// fill the cache if gen is unchanged, so a lookup that raced with a logout can never put
// the dead token back.
type tokenCache struct {
	ttl  time.Duration
	size int
	now  func() time.Time

	mu      sync.Mutex
	gen     uint64
	entries map[string]cachedDevice
}

type cachedDevice struct {
	dev     storage.TokenDevice
	expires time.Time
}

func newTokenCache(ttl time.Duration, size int, now func() time.Time) *tokenCache {
	return &tokenCache{ttl: ttl, size: size, now: now, entries: make(map[string]cachedDevice)}
}

// get returns the cached device of a token hash, and the generation to pass to put on a miss.
func (c *tokenCache) get(hash string) (storage.TokenDevice, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if ok && c.now().Before(e.expires) {
		return e.dev, true, c.gen
	}
	if ok {
		delete(c.entries, hash)
	}
	return storage.TokenDevice{}, false, c.gen
}

// put caches a device read from the database, unless a forget happened since gen.
func (c *tokenCache) put(hash string, dev storage.TokenDevice, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= c.size {
		// Full: drop about a tenth, oldest-expiring not tracked; random eviction is enough
		// for a cache whose misses cost one indexed query.
		n := c.size/10 + 1
		for k := range c.entries {
			delete(c.entries, k)
			if n--; n == 0 {
				break
			}
		}
	}
	c.entries[hash] = cachedDevice{dev: dev, expires: c.now().Add(c.ttl)}
}

// update replaces the cached copy of a device (after its last-seen fields were written),
// if it is still cached.
func (c *tokenCache) update(hash string, dev storage.TokenDevice) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[hash]; ok {
		e.dev = dev
		c.entries[hash] = e
	}
}

// forget drops token hashes and invalidates lookups in flight.
func (c *tokenCache) forget(hashes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, h := range hashes {
		delete(c.entries, h)
	}
}

// forgetTokens drops ended tokens from the cache (if there is one). Call it after the
// transaction that ended them, whatever its outcome (forgetting too much is harmless).
func (u *UserAPI) forgetTokens(hashes ...string) {
	if u.tokens != nil {
		u.tokens.forget(hashes...)
	}
}

// forgetDevice drops every cached token of one device (e.g. after it was renamed).
func (c *tokenCache) forgetDevice(localpart, deviceID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.entries {
		if e.dev.Localpart == localpart && e.dev.DeviceID == deviceID {
			delete(c.entries, h)
		}
	}
}
