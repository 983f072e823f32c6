package stateres

import (
	"crypto/sha1"
	"encoding/hex"
	"sort"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
)

// resolveV1 is the original state resolution algorithm (room version 1). Conflicts are
// resolved in phases — m.room.power_levels, then m.room.join_rules, then m.room.member
// keys, then every other key — and each phase authorises against the state R as it was
// after the previous phase, so the result does not depend on the order keys are visited.
// When no event of a non-auth key passes auth, the lowest-ordered one is kept, as
// Synapse, the implementation version 1 rooms were made with, does.
func (r *resolver) resolveV1(stateSets []StateMap) (StateMap, error) {
	unconflicted, conflicted := split(stateSets, false)
	if len(conflicted) == 0 {
		return unconflicted, nil
	}
	var all []string
	for _, ids := range conflicted {
		all = append(all, ids...)
	}
	sort.Strings(all)
	if err := r.events.load(all); err != nil {
		return nil, err
	}
	keysOf := func(match func(k matrix.StateKeyTuple) bool) []matrix.StateKeyTuple {
		var ks []matrix.StateKeyTuple
		for k := range conflicted {
			if match(k) {
				ks = append(ks, k)
			}
		}
		sort.Slice(ks, func(i, j int) bool {
			if ks[i].EventType != ks[j].EventType {
				return ks[i].EventType < ks[j].EventType
			}
			return ks[i].StateKey < ks[j].StateKey
		})
		return ks
	}
	R := newPartialState(unconflicted)
	done := map[matrix.StateKeyTuple]bool{}
	phases := []func(k matrix.StateKeyTuple) bool{
		func(k matrix.StateKeyTuple) bool { return k.EventType == auth.TypePowerLevels && k.StateKey == "" },
		func(k matrix.StateKeyTuple) bool { return k.EventType == auth.TypeJoinRules && k.StateKey == "" },
		func(k matrix.StateKeyTuple) bool { return k.EventType == auth.TypeMember },
	}
	for _, phase := range phases {
		resolved := map[matrix.StateKeyTuple]string{}
		for _, k := range keysOf(phase) {
			id, err := r.resolveV1AuthKey(k, conflicted[k], R)
			if err != nil {
				return nil, err
			}
			resolved[k] = id
			done[k] = true
		}
		for k, id := range resolved {
			R.set(k, id)
		}
	}
	resolved := map[matrix.StateKeyTuple]string{}
	for _, k := range keysOf(func(k matrix.StateKeyTuple) bool { return !done[k] }) {
		evs, err := r.v1Events(conflicted[k])
		if err != nil {
			return nil, err
		}
		// Highest depth first, then lowest sha1(event_id).
		sortV1(evs, true)
		pick := evs[len(evs)-1].e.EventID()
		for _, ke := range evs {
			ok, err := r.allowed(ke.e, R, false)
			if err != nil {
				return nil, err
			}
			if ok {
				pick = ke.e.EventID()
				break
			}
		}
		resolved[k] = pick
	}
	for k, id := range resolved {
		R.set(k, id)
	}
	// R.over only holds conflicted keys, which unconflicted lacks; unconflicted is this
	// resolution's own map and becomes the result.
	out := unconflicted
	for k, id := range R.over {
		out[k] = id
	}
	return out, nil
}

// resolveV1AuthKey resolves one conflicted key of an auth event type: sort by ascending
// depth then descending sha1(event_id), take the first, then each next one while it is
// allowed in R with the previous pick in place.
func (r *resolver) resolveV1AuthKey(k matrix.StateKeyTuple, ids []string, R *partialState) (string, error) {
	evs, err := r.v1Events(ids)
	if err != nil {
		return "", err
	}
	sortV1(evs, false)
	trial := newPartialState(nil)
	trial.base = R.base
	for kk, id := range R.over {
		trial.over[kk] = id
	}
	pick := evs[0].e.EventID()
	for _, ke := range evs[1:] {
		trial.set(k, pick)
		ok, err := r.allowed(ke.e, trial, false)
		if err != nil {
			return "", err
		}
		if !ok {
			break
		}
		pick = ke.e.EventID()
	}
	return pick, nil
}

type v1Event struct {
	e    matrix.PDU
	sha1 string
}

func (r *resolver) v1Events(ids []string) ([]v1Event, error) {
	out := make([]v1Event, 0, len(ids))
	for _, id := range ids {
		e, err := r.events.mustGet(id)
		if err != nil {
			return nil, err
		}
		sum := sha1.Sum([]byte(id))
		out = append(out, v1Event{e: e, sha1: hex.EncodeToString(sum[:])})
	}
	return out, nil
}

// sortV1 sorts by (depth descending, sha1 ascending) if highestFirst, else by its
// reverse (depth ascending, sha1 descending).
func sortV1(evs []v1Event, highestFirst bool) {
	sort.Slice(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		less := a.e.Depth() > b.e.Depth() || (a.e.Depth() == b.e.Depth() && a.sha1 < b.sha1)
		if highestFirst {
			return less
		}
		greater := a.e.Depth() < b.e.Depth() || (a.e.Depth() == b.e.Depth() && a.sha1 > b.sha1)
		return greater
	})
}
