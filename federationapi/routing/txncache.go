package routing

import "sync"

// txnCache makes PUT /send/{txnId} idempotent per (origin, txnId): a repeat gets the first
// answer, and a repeat that arrives while the first is still being processed waits for it.
// It keeps the newest maxTxns answers in memory (a sender retries a transaction soon, or
// not at all; after a restart a repeat is processed again, which stores nothing twice).
type txnCache struct {
	mu    sync.Mutex
	max   int
	order []string
	txns  map[string]*txnEntry
}

type txnEntry struct {
	done chan struct{}
	body any
}

const maxTxns = 4096

func newTxnCache(max int) *txnCache {
	return &txnCache{max: max, txns: map[string]*txnEntry{}}
}

// do returns the answer of the transaction key, running fn for its first arrival only.
func (c *txnCache) do(key string, fn func() (any, bool)) any {
	c.mu.Lock()
	if e, ok := c.txns[key]; ok {
		c.mu.Unlock()
		<-e.done
		return e.body
	}
	e := &txnEntry{done: make(chan struct{})}
	c.txns[key] = e
	c.order = append(c.order, key)
	if len(c.order) > c.max {
		delete(c.txns, c.order[0])
		c.order = c.order[1:]
	}
	c.mu.Unlock()
	body, keep := fn()
	e.body = body
	close(e.done)
	if !keep {
		// A failure that was not the transaction's fault (the roomserver unreachable):
		// the sender's retry is processed again.
		c.mu.Lock()
		if c.txns[key] == e {
			delete(c.txns, key)
		}
		c.mu.Unlock()
	}
	return body
}
