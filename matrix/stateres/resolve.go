// Package stateres implements Matrix state resolution: given several room states (the
// states after each of an event's prev_events), compute the state before the event.
// Room version 1 uses the original algorithm (content/rooms/v1.md), versions 2–11 state
// resolution v2, and version 12 v2.1, which runs the iterative auth checks from an empty
// state over a full conflicted set that also holds the conflicted state subgraph.
//
// The roomserver calls Resolve when it computes the state before a new event with several
// prev_events (ARCHITECTURE.md §2, arrows 3 and 4). Events are read through the
// matrix.PDU contract and authorised with matrix/auth.
package stateres

import (
	"context"
	"fmt"

	"github.com/axon-matrix/axon/matrix"
)

// StateMap maps (type, state_key) to an event ID.
type StateMap = map[matrix.StateKeyTuple]string

// EventFetcher returns the events with the given IDs. IDs it does not know are left out
// of the result (not an error); an error means the store failed. It must not return
// events that were rejected for failing auth against their own auth chain.
type EventFetcher func(ctx context.Context, eventIDs []string) ([]matrix.PDU, error)

// AuthChainFetcher returns the IDs of the auth chain of the given events: their
// auth_events, those events' auth_events, and so on (the given events themselves only if
// one is in another's chain). Order does not matter; duplicates are allowed.
type AuthChainFetcher func(ctx context.Context, eventIDs []string) ([]string, error)

// Resolve resolves stateSets under the state resolution algorithm of room version v and
// returns the resolved state as a new map (the inputs are not modified). fetch loads
// events by ID; authChain is used by v2 and v2.1 for the auth difference and may be nil
// for version 1 rooms.
func Resolve(ctx context.Context, v *matrix.RoomVersion, stateSets []StateMap, fetch EventFetcher, authChain AuthChainFetcher) (StateMap, error) {
	if v == nil {
		return nil, fmt.Errorf("stateres: no room version")
	}
	switch len(stateSets) {
	case 0:
		return StateMap{}, nil
	case 1:
		out := make(StateMap, len(stateSets[0]))
		for k, id := range stateSets[0] {
			out[k] = id
		}
		return out, nil
	}
	r := &resolver{v: v, events: newEventCache(ctx, fetch)}
	switch v.StateRes {
	case matrix.StateResV1:
		return r.resolveV1(stateSets)
	case matrix.StateResV2, matrix.StateResV2_1:
		if authChain == nil {
			return nil, fmt.Errorf("stateres: state resolution v2 needs an AuthChainFetcher")
		}
		r.authChain = func(ids []string) ([]string, error) { return authChain(ctx, ids) }
		return r.resolveV2(stateSets)
	}
	return nil, fmt.Errorf("stateres: room version %s has unknown state resolution algorithm %d", v.ID, v.StateRes)
}

// resolver holds what one resolution needs: the version, the event cache and, for v12,
// the create event.
type resolver struct {
	v         *matrix.RoomVersion
	events    *eventCache
	authChain func(ids []string) ([]string, error)
	// create is the room's create event, needed explicitly in v12 where it is in no
	// event's auth_events.
	create matrix.PDU
}

// split divides the state sets into the unconflicted state map and the conflicted state
// set (as distinct event IDs per key). With strict (v2) a key missing from some set is
// conflicted; without it (v1) only keys with two or more different event IDs are.
func split(stateSets []StateMap, strict bool) (unconflicted StateMap, conflicted map[matrix.StateKeyTuple][]string) {
	first := stateSets[0]
	unconflicted = make(StateMap, len(first))
	conflicted = map[matrix.StateKeyTuple][]string{}
	addConflict := func(k matrix.StateKeyTuple, id string) {
		for _, have := range conflicted[k] {
			if have == id {
				return
			}
		}
		conflicted[k] = append(conflicted[k], id)
	}
	for k, id := range first {
		same := true
		for _, s := range stateSets[1:] {
			other, ok := s[k]
			if (ok || strict) && other != id {
				same = false
				break
			}
		}
		if same {
			unconflicted[k] = id
			continue
		}
		for _, s := range stateSets {
			if other, ok := s[k]; ok {
				addConflict(k, other)
			}
		}
	}
	for i, s := range stateSets[1:] {
		for k, id := range s {
			if _, ok := first[k]; ok {
				continue
			}
			if _, done := unconflicted[k]; done {
				continue
			}
			if _, done := conflicted[k]; done {
				addConflict(k, id)
				continue
			}
			// k is missing from the first set: conflicted under v2; under v1 only if the
			// other sets disagree.
			same := !strict
			for _, o := range stateSets[i+2:] {
				if other, ok := o[k]; ok && other != id {
					same = false
				}
			}
			if same {
				unconflicted[k] = id
				continue
			}
			for _, o := range stateSets[1:] {
				if other, ok := o[k]; ok {
					addConflict(k, other)
				}
			}
		}
	}
	return unconflicted, conflicted
}
