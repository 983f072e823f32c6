package routing

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/axon-matrix/axon/internal/parallel"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/signing"
)

// txnKeys is the key lookup of one received transaction (arrow 11): each server key its
// PDUs are signed with is asked of the serverkeyapi once, however many PDUs carry it, and
// the PDUs' checks may run at once (entries are filled once each).
type txnKeys struct {
	lookup event.KeyLookup
	mu     sync.Mutex
	keys   map[txnKeyName]*txnKey
}

type txnKeyName struct {
	server string
	id     signing.KeyID
}

type txnKey struct {
	once sync.Once
	key  event.VerifyKey
	err  error
}

func newTxnKeys(lookup event.KeyLookup) *txnKeys {
	return &txnKeys{lookup: lookup, keys: map[txnKeyName]*txnKey{}}
}

// get is an event.KeyLookup. A failed lookup is not repeated within the transaction
// either: the transaction's PDUs signed with that key all fail the same way.
func (k *txnKeys) get(ctx context.Context, server string, id signing.KeyID) (event.VerifyKey, error) {
	k.mu.Lock()
	e := k.keys[txnKeyName{server, id}]
	if e == nil {
		e = &txnKey{}
		k.keys[txnKeyName{server, id}] = e
	}
	k.mu.Unlock()
	e.once.Do(func() { e.key, e.err = k.lookup(ctx, server, id) })
	return e.key, e.err
}

// verifier returns the signature check for one transaction's PDUs: over a txnKeys when
// the handler has the raw lookup, else the handler's own check.
func (h *sendHandler) verifier() func(ctx context.Context, e *event.Event) error {
	if h.lookup == nil {
		return h.keys
	}
	tk := newTxnKeys(h.lookup)
	return func(ctx context.Context, e *event.Event) error { return event.VerifyEventSignatures(ctx, e, tk.get) }
}

// pduCheck is one PDU of a transaction to check: its JSON and its room's version ("" for a
// room we do not hold: not checked).
type pduCheck struct {
	raw     json.RawMessage
	roomID  string
	version string
	rv      received
	err     error
}

// checkAll parses and verifies the PDUs with a version (check), on up to GOMAXPROCS
// goroutines: each PDU's result lands in its own slot, so the order stays the received one.
func (h *sendHandler) checkAll(ctx context.Context, verify func(context.Context, *event.Event) error, pdus []pduCheck) {
	var todo []int
	for i := range pdus {
		if pdus[i].version != "" {
			todo = append(todo, i)
		}
	}
	// One PDU per worker at least: each is a signature check, far more than the scheduling.
	parallel.Each(len(todo), 1, func(k int) {
		i := todo[k]
		pdus[i].rv, pdus[i].err = h.checkWith(ctx, verify, pdus[i].raw, pdus[i].version)
	})
}
