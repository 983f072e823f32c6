package stateres

import (
	"container/heap"
	"sort"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
)

// isPowerEvent: m.room.power_levels, m.room.join_rules, or a membership leave or ban sent
// by someone other than its target (a kick or ban). m.room.create counts too, as it
// does in the implementations the network runs on; it only ever matters if two create
// events conflict.
func isPowerEvent(e matrix.PDU) bool {
	sk := e.StateKey()
	if sk == nil {
		return false
	}
	switch e.Type() {
	case auth.TypePowerLevels, auth.TypeJoinRules, auth.TypeCreate:
		return *sk == ""
	case auth.TypeMember:
		m := auth.Membership(e)
		return (m == auth.MembershipLeave || m == auth.MembershipBan) && e.Sender() != *sk
	}
	return false
}

// senderPowerLevel is the power level of e's sender according to e's auth events (the
// power levels and create event among them; in v12 the room's create event).
func (r *resolver) senderPowerLevel(e matrix.PDU, plCache map[string]*auth.PowerLevels) (int64, error) {
	var pl, create matrix.PDU
	for _, id := range e.AuthEventIDs() {
		ae, err := r.events.get(id)
		if err != nil {
			return 0, err
		}
		if ae == nil || ae.StateKey() == nil || *ae.StateKey() != "" {
			continue
		}
		switch ae.Type() {
		case auth.TypePowerLevels:
			pl = ae
		case auth.TypeCreate:
			create = ae
		}
	}
	if r.v.RoomIDFromCreateEvent {
		create = r.create
	}
	if pl == nil && create == nil {
		return 0, nil
	}
	key := ""
	if pl != nil {
		key = pl.EventID()
	}
	if create != nil {
		key += "|" + create.EventID()
	}
	levels, ok := plCache[key]
	if !ok {
		var err error
		if levels, err = auth.NewPowerLevels(create, pl); err != nil {
			levels = nil
		}
		plCache[key] = levels
	}
	if levels == nil {
		return 0, nil
	}
	return levels.UserPowerLevel(e.Sender()), nil
}

// powerNode is one event in the reverse topological power ordering, with its sort key
// computed once.
type powerNode struct {
	e        matrix.PDU
	level    int64
	ts       int64
	id       string
	inDegree int
	children []int
}

// powerHeap orders candidate nodes: higher sender power first, then earlier
// origin_server_ts, then smaller event ID.
type powerHeap struct {
	nodes []powerNode
	idx   []int
}

func (h *powerHeap) Len() int { return len(h.idx) }
func (h *powerHeap) Less(i, j int) bool {
	a, b := &h.nodes[h.idx[i]], &h.nodes[h.idx[j]]
	if a.level != b.level {
		return a.level > b.level
	}
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	return a.id < b.id
}
func (h *powerHeap) Swap(i, j int) { h.idx[i], h.idx[j] = h.idx[j], h.idx[i] }
func (h *powerHeap) Push(x any)    { h.idx = append(h.idx, x.(int)) }
func (h *powerHeap) Pop() any {
	n := len(h.idx)
	x := h.idx[n-1]
	h.idx = h.idx[:n-1]
	return x
}

// reverseTopologicalPowerOrder sorts events (earliest first) by Kahn's algorithm over
// the auth_events edges among them, choosing at each step the smallest candidate under
// the power comparison.
func (r *resolver) reverseTopologicalPowerOrder(events []matrix.PDU) ([]matrix.PDU, error) {
	if err := r.events.loadAuthEvents(events); err != nil {
		return nil, err
	}
	pos := make(map[string]int, len(events))
	nodes := make([]powerNode, len(events))
	plCache := map[string]*auth.PowerLevels{}
	for i, e := range events {
		pos[e.EventID()] = i
		lvl, err := r.senderPowerLevel(e, plCache)
		if err != nil {
			return nil, err
		}
		nodes[i] = powerNode{e: e, level: lvl, ts: e.OriginServerTS(), id: e.EventID()}
	}
	for i, e := range events {
		seen := map[int]bool{}
		for _, a := range e.AuthEventIDs() {
			if j, ok := pos[a]; ok && !seen[j] && j != i {
				seen[j] = true
				nodes[i].inDegree++
				nodes[j].children = append(nodes[j].children, i)
			}
		}
	}
	h := &powerHeap{nodes: nodes}
	for i := range nodes {
		if nodes[i].inDegree == 0 {
			h.idx = append(h.idx, i)
		}
	}
	heap.Init(h)
	out := make([]matrix.PDU, 0, len(events))
	for h.Len() > 0 {
		i := heap.Pop(h).(int)
		out = append(out, nodes[i].e)
		for _, c := range nodes[i].children {
			nodes[c].inDegree--
			if nodes[c].inDegree == 0 {
				heap.Push(h, c)
			}
		}
	}
	if len(out) != len(events) {
		// A cycle in auth_events cannot come from valid events; order the rest by key so
		// the result is still deterministic.
		var rest []int
		for i := range nodes {
			if nodes[i].inDegree > 0 {
				rest = append(rest, i)
			}
		}
		sort.Slice(rest, func(a, b int) bool { return (&powerHeap{nodes: nodes, idx: rest}).Less(a, b) })
		for _, i := range rest {
			out = append(out, nodes[i].e)
		}
	}
	return out, nil
}

// powerLevelsAuthEvent returns the m.room.power_levels event among e's auth events, or nil.
func (r *resolver) powerLevelsAuthEvent(e matrix.PDU) (matrix.PDU, error) {
	for _, id := range e.AuthEventIDs() {
		ae, err := r.events.get(id)
		if err != nil {
			return nil, err
		}
		if ae != nil && ae.Type() == auth.TypePowerLevels && ae.StateKey() != nil && *ae.StateKey() == "" {
			return ae, nil
		}
	}
	return nil, nil
}

// noMainline is the mainline position of events whose power levels chain never meets
// the mainline: greater than every real position.
const noMainline = int(^uint(0) >> 1)

// mainlineOrder sorts events by the mainline ordering based on the power levels event
// with ID plID ("" if the partial state has none).
func (r *resolver) mainlineOrder(events []matrix.PDU, plID string) ([]matrix.PDU, error) {
	mainline := map[string]int{}
	for i, id := 0, plID; id != ""; i++ {
		if _, loop := mainline[id]; loop {
			break
		}
		mainline[id] = i
		p, err := r.events.get(id)
		if err != nil {
			return nil, err
		}
		if p == nil {
			break
		}
		parent, err := r.powerLevelsAuthEvent(p)
		if err != nil {
			return nil, err
		}
		id = ""
		if parent != nil {
			id = parent.EventID()
		}
	}
	if err := r.events.loadAuthEvents(events); err != nil {
		return nil, err
	}
	// memo: power levels event ID → mainline position of an event citing it.
	memo := map[string]int{}
	position := func(e matrix.PDU) (int, error) {
		var walked []string
		seen := map[string]bool{}
		cur, err := r.powerLevelsAuthEvent(e)
		result := noMainline
		for err == nil && cur != nil {
			id := cur.EventID()
			if p, ok := mainline[id]; ok {
				result = p
				break
			}
			if p, ok := memo[id]; ok {
				result = p
				break
			}
			if seen[id] {
				break // a cycle: malformed auth_events, never from valid events
			}
			seen[id] = true
			walked = append(walked, id)
			cur, err = r.powerLevelsAuthEvent(cur)
		}
		if err != nil {
			return 0, err
		}
		for _, id := range walked {
			memo[id] = result
		}
		return result, nil
	}
	type keyed struct {
		e   matrix.PDU
		pos int
	}
	ks := make([]keyed, len(events))
	for i, e := range events {
		p, err := position(e)
		if err != nil {
			return nil, err
		}
		ks[i] = keyed{e: e, pos: p}
	}
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.pos != b.pos {
			return a.pos > b.pos
		}
		if a.e.OriginServerTS() != b.e.OriginServerTS() {
			return a.e.OriginServerTS() < b.e.OriginServerTS()
		}
		return a.e.EventID() < b.e.EventID()
	})
	out := make([]matrix.PDU, len(ks))
	for i, k := range ks {
		out[i] = k.e
	}
	return out, nil
}
