package internal

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/axon-matrix/axon/internal/parallel"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/signing"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// fetchKeysChunk is the most keys asked of the serverkeyapi in one call (its limit).
const fetchKeysChunk = 1000

type keyName struct{ server, keyID string }

// keyLookup is an event.KeyLookup over keys fetched beforehand in batches from the
// serverkeyapi (arrow 12), so that a room's thousands of events cost a few calls.
type keyLookup map[keyName]skapi.PublicKey

func (k keyLookup) lookup(_ context.Context, server string, keyID signing.KeyID) (event.VerifyKey, error) {
	pk, ok := k[keyName{server, string(keyID)}]
	if !ok {
		return event.VerifyKey{}, fmt.Errorf("no key %s of %s", keyID, server)
	}
	raw, err := signing.DecodeBase64(pk.Key)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return event.VerifyKey{}, fmt.Errorf("key %s of %s is not an ed25519 key", keyID, server)
	}
	return event.VerifyKey{Key: raw, ValidUntilTS: pk.ValidUntilTS}, nil
}

// fetchKeys asks the serverkeyapi, in batches, for every key whose signature a required
// signer put on one of events.
func (a *API) fetchKeys(ctx context.Context, events []*event.Event) (keyLookup, error) {
	// Reading each event's signatures is JSON decoding: on every core, then merged.
	names := make([][]keyName, len(events))
	parallel.Each(len(events), parallelMin, func(i int) {
		servers, err := event.RequiredSigners(events[i])
		if err != nil {
			return // VerifyEventSignatures reports it
		}
		sigs := events[i].Signatures()
		for _, s := range servers {
			for id := range sigs[s] {
				if signing.KeyID(id).Algorithm() == signing.AlgorithmEd25519 {
					names[i] = append(names[i], keyName{s, id})
				}
			}
		}
	})
	seen := map[keyName]bool{}
	var reqs []skapi.KeyRequest
	for _, kns := range names {
		for _, kn := range kns {
			if !seen[kn] {
				seen[kn] = true
				reqs = append(reqs, skapi.KeyRequest{ServerName: kn.server, KeyID: kn.keyID})
			}
		}
	}
	keys := keyLookup{}
	for start := 0; start < len(reqs); start += fetchKeysChunk {
		end := min(start+fetchKeysChunk, len(reqs))
		resp, err := a.Keys.FetchKeys(ctx, &skapi.FetchKeysRequest{Keys: reqs[start:end]})
		if err != nil {
			return nil, fmt.Errorf("fetching signing keys: %w", err)
		}
		for _, k := range resp.Keys {
			keys[keyName{k.ServerName, k.KeyID}] = k
		}
	}
	return keys, nil
}

// verifiedEvents parses raws as events of version and keeps those that are well-formed,
// belong to roomID and carry valid signatures of every server that must sign them; an
// event whose content hash does not match is kept redacted, as the server-server spec
// says ("Checks performed on receipt of a PDU"). It returns the kept events' JSON in the
// order given, and the events.
func (a *API) verifiedEvents(ctx context.Context, version matrix.RoomVersionID, roomID string, raws []json.RawMessage) ([]json.RawMessage, []*event.Event, error) {
	// Parsing (the canonical JSON and the hashes) and the signature checks are most of the
	// CPU of a large join (tens of thousands of events): both run on every core, each
	// event on its own, and the order of raws is kept.
	all := make([]*event.Event, len(raws))
	parallel.Each(len(raws), parallelMin, func(i int) {
		e, err := event.NewEventFromUntrustedJSON(raws[i], version)
		if err != nil {
			eventsDropped.Inc()
			a.logDrop("", err)
			return
		}
		if e.RoomID() != roomID && !(e.Type() == "m.room.create" && e.RoomID() == "") {
			eventsDropped.Inc()
			a.logDrop(e.EventID(), fmt.Errorf("belongs to room %q", e.RoomID()))
			return
		}
		all[i] = e
	})
	parsed := make([]*event.Event, 0, len(raws))
	for _, e := range all {
		if e != nil {
			parsed = append(parsed, e)
		}
	}
	keys, err := a.fetchKeys(ctx, parsed)
	if err != nil {
		return nil, nil, err
	}
	ok := make([]bool, len(parsed))
	parallel.Each(len(parsed), parallelMin, func(i int) {
		if err := event.VerifyEventSignatures(ctx, parsed[i], keys.lookup); err != nil {
			eventsDropped.Inc()
			a.logDrop(parsed[i].EventID(), err)
			return
		}
		ok[i] = true
	})
	outJSON := make([]json.RawMessage, 0, len(parsed))
	out := make([]*event.Event, 0, len(parsed))
	for i, e := range parsed {
		if ok[i] {
			outJSON = append(outJSON, e.JSON())
			out = append(out, e)
		}
	}
	return outJSON, out, nil
}

// parallelMin is the fewest events parallel.Each gives each goroutine.
const parallelMin = 64

func (a *API) logDrop(eventID string, err error) {
	a.log().WithField("event_id", eventID).WithError(err).Warn("dropping an event of a send_join answer")
}

// verifyServerSignature checks that one of server's ed25519 signatures on e verifies with
// its key (fetched from the serverkeyapi).
func (a *API) verifyServerSignature(ctx context.Context, e *event.Event, server string) error {
	var reqs []skapi.KeyRequest
	for id := range e.Signatures()[server] {
		if signing.KeyID(id).Algorithm() == signing.AlgorithmEd25519 {
			reqs = append(reqs, skapi.KeyRequest{ServerName: server, KeyID: id})
		}
	}
	if len(reqs) == 0 {
		return fmt.Errorf("no ed25519 signature of %s", server)
	}
	resp, err := a.Keys.FetchKeys(ctx, &skapi.FetchKeysRequest{Keys: reqs})
	if err != nil {
		return fmt.Errorf("fetching signing keys: %w", err)
	}
	signed, err := e.SignedBytes()
	if err != nil {
		return err
	}
	keys := keyLookup{}
	for _, k := range resp.Keys {
		keys[keyName{k.ServerName, k.KeyID}] = k
	}
	for _, r := range reqs {
		k, err := keys.lookup(ctx, server, signing.KeyID(r.KeyID))
		if err != nil {
			continue
		}
		sig, err := signing.DecodeBase64(e.Signatures()[server][r.KeyID])
		if err == nil && ed25519.Verify(k.Key, signed, sig) {
			return nil
		}
	}
	return fmt.Errorf("no signature of %s verifies", server)
}
