package stateres

import (
	"fmt"
	"sort"
	"strings"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
)

// resolveV2 is state resolution v2 (room versions 2–11) and v2.1 (room version 12).
func (r *resolver) resolveV2(stateSets []StateMap) (StateMap, error) {
	v21 := r.v.StateRes == matrix.StateResV2_1
	unconflicted, conflicted := split(stateSets, true)
	if len(conflicted) == 0 {
		return unconflicted, nil
	}
	conflictedIDs := make(map[string]bool)
	for _, ids := range conflicted {
		for _, id := range ids {
			conflictedIDs[id] = true
		}
	}
	if v21 {
		if err := r.findCreate(stateSets, conflictedIDs); err != nil {
			return nil, err
		}
	}

	// The full conflicted set: conflicted state ∪ auth difference (∪ conflicted state
	// subgraph in v2.1).
	full, err := r.authDifference(stateSets, unconflicted, conflictedIDs)
	if err != nil {
		return nil, err
	}
	for id := range conflictedIDs {
		full[id] = true
	}
	if v21 {
		sub, err := r.conflictedSubgraph(conflictedIDs)
		if err != nil {
			return nil, err
		}
		for id := range sub {
			full[id] = true
		}
	}
	fullIDs := sortedKeys(full)
	if err := r.events.load(fullIDs); err != nil {
		return nil, err
	}
	// Conflicted state events must all be known; an auth difference or subgraph event
	// the store does not return (it was rejected, so it cannot be used) is left out.
	fullEvents := make([]matrix.PDU, 0, len(fullIDs))
	for _, id := range fullIDs {
		e, err := r.events.get(id)
		if err != nil {
			return nil, err
		}
		if e == nil {
			if conflictedIDs[id] {
				return nil, fmt.Errorf("stateres: conflicted state event %s not found", id)
			}
			delete(full, id)
			continue
		}
		fullEvents = append(fullEvents, e)
	}

	// Step 1: the power events of the full conflicted set and the events of their auth
	// chains within it, in reverse topological power order.
	inX := map[string]bool{}
	var stack []matrix.PDU
	for _, e := range fullEvents {
		if isPowerEvent(e) {
			inX[e.EventID()] = true
			stack = append(stack, e)
		}
	}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, a := range e.AuthEventIDs() {
			if full[a] && !inX[a] {
				inX[a] = true
				ae, err := r.events.mustGet(a)
				if err != nil {
					return nil, err
				}
				stack = append(stack, ae)
			}
		}
	}
	var powerEvents, others []matrix.PDU
	for _, e := range fullEvents {
		if inX[e.EventID()] {
			powerEvents = append(powerEvents, e)
		} else {
			others = append(others, e)
		}
	}
	sortedPower, err := r.reverseTopologicalPowerOrder(powerEvents)
	if err != nil {
		return nil, err
	}

	// Step 2: iterative auth checks from the unconflicted state (v2) or the empty state
	// (v2.1).
	var state *partialState
	if v21 {
		state = newPartialState(nil)
	} else {
		state = newPartialState(unconflicted)
	}
	if err := r.prefetchState(sortedPower, state); err != nil {
		return nil, err
	}
	if err := r.iterativeAuthChecks(sortedPower, state); err != nil {
		return nil, err
	}

	// Steps 3 and 4: the other events in mainline order of the resolved power levels.
	plID, _ := state.get(matrix.StateKeyTuple{EventType: auth.TypePowerLevels})
	sortedOthers, err := r.mainlineOrder(others, plID)
	if err != nil {
		return nil, err
	}
	if err := r.prefetchState(sortedOthers, state); err != nil {
		return nil, err
	}
	if err := r.iterativeAuthChecks(sortedOthers, state); err != nil {
		return nil, err
	}

	// Step 5: the unconflicted state map wins over the partial state. unconflicted is
	// this resolution's own map and nothing reads it any more, so it becomes the result.
	out := unconflicted
	for k, id := range state.over {
		if _, ok := out[k]; !ok {
			out[k] = id
		}
	}
	return out, nil
}

// authDifference returns ∪Cᵢ − ∩Cᵢ where Cᵢ is the full auth chain of state set i. As the
// events common to every set (exactly the unconflicted ones) add the same chain A to every
// Cᵢ, it equals (∪Xᵢ − ∩Xᵢ) − A with Xᵢ the auth chain of set i's conflicted events: one
// auth chain query for A instead of one per set over the whole state.
func (r *resolver) authDifference(stateSets []StateMap, unconflicted StateMap, conflictedIDs map[string]bool) (map[string]bool, error) {
	counts := map[string]int{}
	for _, s := range stateSets {
		var ids []string
		for _, id := range s {
			if conflictedIDs[id] {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		chain, err := r.authChain(ids)
		if err != nil {
			return nil, fmt.Errorf("stateres: auth chain: %w", err)
		}
		seen := make(map[string]bool, len(chain))
		for _, id := range chain {
			if !seen[id] {
				seen[id] = true
				counts[id]++
			}
		}
	}
	diff := map[string]bool{}
	for id, n := range counts {
		if n < len(stateSets) {
			diff[id] = true
		}
	}
	if len(diff) == 0 {
		return diff, nil
	}
	common := make([]string, 0, len(unconflicted))
	for _, id := range unconflicted {
		common = append(common, id)
	}
	chain, err := r.authChain(common)
	if err != nil {
		return nil, fmt.Errorf("stateres: auth chain: %w", err)
	}
	for _, id := range chain {
		delete(diff, id)
	}
	return diff, nil
}

// conflictedSubgraph returns the events on auth_events paths from one conflicted state
// event to another, endpoints included (v2.1). It first loads the auth chains below the
// conflicted events breadth first, one fetch per level, then marks, children before
// parents, the events from which a conflicted event is reachable.
func (r *resolver) conflictedSubgraph(conflictedIDs map[string]bool) (map[string]bool, error) {
	visited := map[string]bool{}
	level := sortedKeys(conflictedIDs)
	for _, id := range level {
		visited[id] = true
	}
	var order []matrix.PDU // every reachable event, parents before their auth events
	for len(level) > 0 {
		if err := r.events.load(level); err != nil {
			return nil, err
		}
		var next []string
		for _, id := range level {
			e, err := r.events.get(id)
			if err != nil {
				return nil, err
			}
			if e == nil {
				continue
			}
			order = append(order, e)
			for _, a := range e.AuthEventIDs() {
				if !visited[a] {
					visited[a] = true
					next = append(next, a)
				}
			}
		}
		level = next
	}
	// reaches[id]: a conflicted event is reachable from id (id itself included). Process
	// in an order where every event comes after its auth events: reverse topological
	// order by Kahn's algorithm over the loaded events.
	pending := make(map[string]int, len(order))
	parents := make(map[string][]string, len(order))
	byID := make(map[string]matrix.PDU, len(order))
	for _, e := range order {
		byID[e.EventID()] = e
	}
	for _, e := range order {
		for _, a := range e.AuthEventIDs() {
			if _, ok := byID[a]; ok {
				pending[e.EventID()]++
				parents[a] = append(parents[a], e.EventID())
			}
		}
	}
	var ready []string
	for _, e := range order {
		if pending[e.EventID()] == 0 {
			ready = append(ready, e.EventID())
		}
	}
	reaches := make(map[string]bool, len(order))
	for len(ready) > 0 {
		id := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		res := conflictedIDs[id]
		for _, a := range byID[id].AuthEventIDs() {
			if reaches[a] {
				res = true
				break
			}
		}
		reaches[id] = res
		for _, p := range parents[id] {
			pending[p]--
			if pending[p] == 0 {
				ready = append(ready, p)
			}
		}
	}
	// Every loaded event is reachable from a conflicted event; those that also reach one
	// lie on a path between two of them.
	sub := map[string]bool{}
	for id, ok := range reaches {
		if ok {
			sub[id] = true
		}
	}
	return sub, nil
}

// findCreate sets r.create for v12, where the create event is in no auth_events: from the
// state sets if they hold it, else from the room ID of a conflicted event.
func (r *resolver) findCreate(stateSets []StateMap, conflictedIDs map[string]bool) error {
	createKey := matrix.StateKeyTuple{EventType: auth.TypeCreate}
	id := ""
	for _, s := range stateSets {
		if c, ok := s[createKey]; ok {
			id = c
			break
		}
	}
	if id == "" {
		for _, cid := range sortedKeys(conflictedIDs) {
			e, err := r.events.mustGet(cid)
			if err != nil {
				return err
			}
			if room := e.RoomID(); strings.HasPrefix(room, "!") {
				id = "$" + room[1:]
			}
			break
		}
	}
	if id == "" {
		return fmt.Errorf("stateres: cannot find the room's create event")
	}
	c, err := r.events.mustGet(id)
	if err != nil {
		return err
	}
	r.create = c
	return nil
}

// prefetchState loads, in one batch, the partial state's events for the keys the events
// will be authorised against (the keys of their auth events, plus the create, power
// levels and join rules), so the iterative checks do not fetch them one by one.
func (r *resolver) prefetchState(events []matrix.PDU, state *partialState) error {
	if err := r.events.loadAuthEvents(events); err != nil {
		return err
	}
	want := map[string]bool{}
	add := func(k matrix.StateKeyTuple) {
		if id, ok := state.get(k); ok {
			want[id] = true
		}
	}
	add(matrix.StateKeyTuple{EventType: auth.TypeCreate})
	add(matrix.StateKeyTuple{EventType: auth.TypePowerLevels})
	add(matrix.StateKeyTuple{EventType: auth.TypeJoinRules})
	for _, e := range events {
		add(matrix.StateKeyTuple{EventType: auth.TypeMember, StateKey: e.Sender()})
		if e.Type() == auth.TypeMember && e.StateKey() != nil {
			add(matrix.StateKeyTuple{EventType: auth.TypeMember, StateKey: *e.StateKey()})
		}
		for _, a := range e.AuthEventIDs() {
			if ae := r.events.events[a]; ae != nil {
				if t, ok := matrix.Tuple(ae); ok {
					add(t)
				}
			}
		}
	}
	return r.events.load(sortedKeys(want))
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
