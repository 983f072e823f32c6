package keyring

import (
	"context"

	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/signing"
)

// VerifyEventSignatures checks the signatures of events (server-server spec "Validating
// hashes and signatures on received events"; arrows 11–13 of ARCHITECTURE.md §2). It
// gathers the keys of every required signer (event.RequiredSigners) in one batch — each
// needing validity at the event's origin_server_ts where the room version enforces it —
// then checks each event with event.VerifyEventSignatures. The result has one entry per
// event: nil, or why it fails (an *event.SignatureError for a missing or bad signature).
// Only a failure of the ring itself (context, store) is returned as the error.
func (k *KeyRing) VerifyEventSignatures(ctx context.Context, events []*event.Event) ([]error, error) {
	results := make([]error, len(events))
	reqs := map[Request]int64{}
	for i, e := range events {
		servers, err := event.RequiredSigners(e)
		if err != nil {
			results[i] = err
			continue
		}
		var minTS int64
		if e.Version().EnforceKeyValidity {
			minTS = e.OriginServerTS()
		}
		sigs := e.Signatures()
		for _, s := range servers {
			for id := range sigs[s] {
				if signing.KeyID(id).Algorithm() != signing.AlgorithmEd25519 {
					continue
				}
				r := Request{s, signing.KeyID(id)}
				reqs[r] = max(reqs[r], minTS)
			}
		}
	}
	keys, err := k.Keys(ctx, reqs)
	if err != nil {
		return nil, err
	}
	lookup := func(_ context.Context, server string, keyID signing.KeyID) (event.VerifyKey, error) {
		key, ok := keys[Request{server, keyID}]
		if !ok {
			return event.VerifyKey{}, k.notFound(server, keyID)
		}
		return event.VerifyKey{Key: key.Key, ValidUntilTS: key.ValidUntilTS}, nil
	}
	for i, e := range events {
		if results[i] == nil {
			results[i] = event.VerifyEventSignatures(ctx, e, lookup)
		}
	}
	return results, nil
}

// EventKeyLookup returns an event.KeyLookup backed by the ring, for callers that check one
// event at a time. It asks for no particular validity (it does not know the event's
// timestamp): event.VerifyEventSignatures still compares the key's validity with the
// event, but a key cached with a too-early validity is not refreshed; VerifyEventSignatures
// on the ring refreshes it.
func (k *KeyRing) EventKeyLookup() event.KeyLookup {
	return func(ctx context.Context, server string, keyID signing.KeyID) (event.VerifyKey, error) {
		r := Request{server, keyID}
		keys, err := k.Keys(ctx, map[Request]int64{r: 0})
		if err != nil {
			return event.VerifyKey{}, err
		}
		key, ok := keys[r]
		if !ok {
			return event.VerifyKey{}, k.notFound(server, keyID)
		}
		return event.VerifyKey{Key: key.Key, ValidUntilTS: key.ValidUntilTS}, nil
	}
}
