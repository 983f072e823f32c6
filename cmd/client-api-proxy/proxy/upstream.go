package proxy

import (
	"hash/fnv"
	"net/url"
	"sync"
	"sync/atomic"
)

// upstream is one instance of a Tier 1 binary.
type upstream struct {
	kind     Kind
	url      *url.URL // scheme and host only
	name     string   // the URL as configured (or found by DNS discovery), for logs and metric labels
	source   string   // for an address DNS discovery found: the configured URL of its name
	healthy  atomic.Bool
	inFlight atomic.Int64
	m        *metrics
	// gmu guards removed and the gauges: once DNS discovery drops the upstream
	// (discovery.go), requests still on it finish, but its gauges are gone and stay gone.
	gmu     sync.Mutex
	removed bool
}

func (u *upstream) setHealthy(ok bool) (changed bool) {
	changed = u.healthy.Swap(ok) != ok
	v := 0.0
	if ok {
		v = 1
	}
	u.gmu.Lock()
	defer u.gmu.Unlock()
	if !u.removed {
		u.m.healthy.WithLabelValues(string(u.kind), u.name).Set(v)
	}
	return changed
}

func (u *upstream) acquire() { u.setInFlight(u.inFlight.Add(1)) }

func (u *upstream) release() { u.setInFlight(u.inFlight.Add(-1)) }

func (u *upstream) setInFlight(n int64) {
	u.gmu.Lock()
	defer u.gmu.Unlock()
	if !u.removed {
		u.m.inFlight.WithLabelValues(string(u.kind), u.name).Set(float64(n))
	}
}

// remove marks the upstream dropped and deletes its gauges.
func (u *upstream) remove() {
	u.gmu.Lock()
	defer u.gmu.Unlock()
	u.removed = true
	u.m.healthy.DeleteLabelValues(string(u.kind), u.name)
	u.m.inFlight.DeleteLabelValues(string(u.kind), u.name)
}

// pool is every upstream of one kind.
type pool struct {
	kind Kind
	// srcs are the kind's configured URLs; none means the kind is not configured.
	srcs []source
	// ups is the current list, replaced whole (never changed in place) when DNS discovery
	// finds other addresses; readers take it with list.
	ups  atomic.Pointer[[]*upstream]
	mu   sync.Mutex    // serialises replacing ups
	next atomic.Uint64 // where the next pick starts looking, so ties go round in turn
}

// list is the pool's upstreams now.
func (p *pool) list() []*upstream {
	if l := p.ups.Load(); l != nil {
		return *l
	}
	return nil
}

// pick returns the healthy upstream with the fewest requests in flight that skip does not
// exclude, or nil. Ties go to the upstreams in turn. Long-polls hold a request in flight for
// their whole wait, so this spreads sync clients evenly over the sync instances.
func (p *pool) pick(skip func(*upstream) bool) *upstream {
	ups := p.list()
	n := len(ups)
	if n == 0 {
		return nil
	}
	start := int(p.next.Add(1) % uint64(n))
	var best *upstream
	var bestLoad int64
	for i := range n {
		u := ups[(start+i)%n]
		if !u.healthy.Load() || (skip != nil && skip(u)) {
			continue
		}
		if load := u.inFlight.Load(); best == nil || load < bestLoad {
			best, bestLoad = u, load
		}
	}
	return best
}

// pickFor returns the upstream that key (a client's access token) belongs to: of the
// healthy upstreams skip does not exclude, the one with the highest hash of key and the
// upstream's name (rendezvous hashing). A client thus keeps talking to one sync instance,
// whose view only moves forward, instead of reading /messages or /event from an instance
// that has not yet consumed what /sync on another already showed it. When its instance is
// down it moves to the next one in its own order, and only the clients of that instance
// move; every proxy in front of the same instances agrees on the choice. An empty key
// falls back to pick.
func (p *pool) pickFor(key string, skip func(*upstream) bool) *upstream {
	if key == "" {
		return p.pick(skip)
	}
	var best *upstream
	var bestScore uint64
	for _, u := range p.list() {
		if !u.healthy.Load() || (skip != nil && skip(u)) {
			continue
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte(key))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(u.name))
		if score := h.Sum64(); best == nil || score > bestScore {
			best, bestScore = u, score
		}
	}
	return best
}

// healthyCount is how many upstreams of the pool are healthy.
func (p *pool) healthyCount() int {
	n := 0
	for _, u := range p.list() {
		if u.healthy.Load() {
			n++
		}
	}
	return n
}
