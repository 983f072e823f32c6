package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// synapseJoinBench (issue 12 item 8 c): the join of item b, smaller, across
// implementations. A room of -bench-synapse-axon-members members (and 5/4 as many state
// events) on Axon server A is joined by a Synapse user; a room on Synapse with
// -bench-synapse-members members and -bench-synapse-state further state events is joined
// by an Axon user. Each is timed from POST /join to the joining server listing every member.
func (r *run) synapseJoinBench() error {
	ctx := context.Background()
	r.configHook = lowBcrypt
	r.begin("build axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	r.begin("start Synapse (scripts/synapse.sh)")
	syn, err := r.startSynapse()
	if err != nil {
		return err
	}
	r.begin("configure and start Axon server A")
	a, err := r.start(bin, "A")
	if err != nil {
		return err
	}
	r.servers = append(r.servers, a)

	members := *benchSynapseAxon
	r.begin(fmt.Sprintf("build the Axon room on A: %d members, %d state events", members, members*5/4))
	owner := benchClient(a.clientURL)
	if _, err := owner.Register(ctx, "owner", "owner-password-1", "bench"); err != nil {
		return err
	}
	setup := time.Now()
	axonRoom, err := r.buildBigRoom(ctx, a.clientURL, owner, "m", members, members*5/4, *benchSetupWorkers)
	if err != nil {
		return err
	}
	r.say("built in %s", time.Since(setup).Round(time.Second))

	r.begin("a Synapse user joins the Axon room through A")
	tag := rand.IntN(1e9)
	carol, err := syn.register(ctx, fmt.Sprintf("carol%d", tag), "carol-password-1")
	if err != nil {
		return err
	}
	carol.HTTP = benchHTTP
	joinTook, complete, err := r.timedJoin(ctx, carol, axonRoom, a.name, members+1, 10*time.Minute)
	if err != nil {
		return err
	}
	r.say("RESULT join-synapse: Synapse joined the Axon room of %d members and %d state events: /join answered in %s, all members listed after %s",
		members, members*5/4, joinTook.Round(time.Millisecond), complete.Round(time.Millisecond))

	r.begin(fmt.Sprintf("build the Synapse room: %d members (shared-secret registration), %d further state events", *benchSynapseMember, *benchSynapseState))
	setup = time.Now()
	var created struct {
		RoomID string `json:"room_id"`
	}
	if err := carol.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom",
		map[string]any{"preset": "public_chat", "name": "big synapse", "room_version": "10"}, &created); err != nil {
		return err
	}
	synRoom := created.RoomID
	if err := parallel(*benchSynapseMember-1, 4, func(i int) error {
		u, err := syn.register(ctx, fmt.Sprintf("m%d-%d", tag, i), "member-password-1")
		if err != nil {
			return err
		}
		return u.Join(ctx, synRoom)
	}); err != nil {
		return err
	}
	var done atomic.Int64
	stop := r.progress("state events on Synapse", &done, *benchSynapseState)
	err = parallel(*benchSynapseState, 4, func(i int) error {
		defer done.Add(1)
		return carol.Do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(synRoom)+"/state/org.axon.bench/"+strconv.Itoa(i),
			map[string]any{"i": i, "pad": "some state of the room"}, nil)
	})
	stop()
	if err != nil {
		return err
	}
	n, err := stateCount(ctx, carol, synRoom)
	if err != nil {
		return err
	}
	r.say("Synapse room %s: %d members, %d state events, built in %s", synRoom, *benchSynapseMember, n, time.Since(setup).Round(time.Second))

	r.begin("an Axon user of A joins the Synapse room")
	dave := benchClient(a.clientURL)
	if _, err := dave.Register(ctx, "dave", "dave-password-1", "bench"); err != nil {
		return err
	}
	joinTook, complete, err = r.timedJoin(ctx, dave, synRoom, syn.name, *benchSynapseMember+1, 10*time.Minute)
	if err != nil {
		return err
	}
	got, err := stateCount(ctx, dave, synRoom)
	if err != nil {
		return err
	}
	r.say("RESULT join-synapse: Axon joined the Synapse room of %d members and %d state events: /join answered in %s, all members listed after %s; A serves %d state events",
		*benchSynapseMember, n, joinTook.Round(time.Millisecond), complete.Round(time.Millisecond), got)
	if got < n+1 {
		return fmt.Errorf("A serves %d state events of the Synapse room, want %d", got, n+1)
	}
	r.step = "done"
	return nil
}
