package stateres

import (
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
)

// partialState is the state the iterative auth checks build: changes over a read-only
// base (the unconflicted state map in v2, nothing in v2.1), so the base is never copied.
type partialState struct {
	base StateMap
	over StateMap
}

func newPartialState(base StateMap) *partialState {
	return &partialState{base: base, over: StateMap{}}
}

func (s *partialState) get(k matrix.StateKeyTuple) (string, bool) {
	if id, ok := s.over[k]; ok {
		return id, true
	}
	id, ok := s.base[k]
	return id, ok
}

func (s *partialState) set(k matrix.StateKeyTuple, id string) { s.over[k] = id }

// stateProvider is the auth.AuthEventProvider for one event during iterative auth checks:
// it looks each needed (type, state_key) up in the partial state and, if the state has
// none, falls back to the event's own auth events (when fallback is set; state res v1
// authorises against the state alone).
type stateProvider struct {
	r        *resolver
	state    *partialState
	e        matrix.PDU
	fallback bool
	authIdx  map[matrix.StateKeyTuple]matrix.PDU
	err      error
}

func (p *stateProvider) lookup(k matrix.StateKeyTuple) matrix.PDU {
	if id, ok := p.state.get(k); ok {
		ev, err := p.r.events.get(id)
		if err != nil && p.err == nil {
			p.err = err
		}
		if ev != nil {
			return ev
		}
	}
	if !p.fallback {
		return nil
	}
	if p.authIdx == nil {
		p.authIdx = map[matrix.StateKeyTuple]matrix.PDU{}
		for _, id := range p.e.AuthEventIDs() {
			ae, err := p.r.events.get(id)
			if err != nil && p.err == nil {
				p.err = err
			}
			if ae == nil {
				continue
			}
			if t, ok := matrix.Tuple(ae); ok {
				p.authIdx[t] = ae
			}
		}
	}
	return p.authIdx[k]
}

// Create implements auth.AuthEventProvider; in v12 it is always the room's create event.
func (p *stateProvider) Create() matrix.PDU {
	if p.r.v.RoomIDFromCreateEvent {
		return p.r.create
	}
	return p.lookup(matrix.StateKeyTuple{EventType: auth.TypeCreate})
}

// PowerLevels implements auth.AuthEventProvider.
func (p *stateProvider) PowerLevels() matrix.PDU {
	return p.lookup(matrix.StateKeyTuple{EventType: auth.TypePowerLevels})
}

// JoinRules implements auth.AuthEventProvider.
func (p *stateProvider) JoinRules() matrix.PDU {
	return p.lookup(matrix.StateKeyTuple{EventType: auth.TypeJoinRules})
}

// Member implements auth.AuthEventProvider.
func (p *stateProvider) Member(userID string) matrix.PDU {
	return p.lookup(matrix.StateKeyTuple{EventType: auth.TypeMember, StateKey: userID})
}

// ThirdPartyInvite implements auth.AuthEventProvider.
func (p *stateProvider) ThirdPartyInvite(token string) matrix.PDU {
	return p.lookup(matrix.StateKeyTuple{EventType: auth.TypeThirdPartyInvite, StateKey: token})
}

// allowed authorises e against state. A store error while looking events up is returned
// as err; an auth failure only makes ok false.
func (r *resolver) allowed(e matrix.PDU, state *partialState, fallback bool) (ok bool, err error) {
	p := &stateProvider{r: r, state: state, e: e, fallback: fallback}
	authErr := auth.Allowed(e, p)
	if p.err != nil {
		return false, p.err
	}
	return authErr == nil, nil
}

// iterativeAuthChecks applies each event of sorted, in order, to state if the auth rules
// allow it against state (falling back to the event's auth events for missing keys).
func (r *resolver) iterativeAuthChecks(sorted []matrix.PDU, state *partialState) error {
	if err := r.events.loadAuthEvents(sorted); err != nil {
		return err
	}
	for _, e := range sorted {
		t, isState := matrix.Tuple(e)
		if !isState {
			continue
		}
		ok, err := r.allowed(e, state, true)
		if err != nil {
			return err
		}
		if ok {
			state.set(t, e.EventID())
		}
	}
	return nil
}
