package routing

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// Arrow 3, a gap in what another server sent: prev_events that get_missing_events did not
// bring (more than its limit were missed). The state after each missing prev event is
// fetched from the origin (GET /state at it — the state before it — and GET /event for
// the prev event itself, added when it is a state event), every event's signatures are
// checked (arrow 11), and the event goes to the roomserver again with those states and
// events (rsapi.FederationEvent's PrevStates and Outliers), which stores them as outliers
// and resolves them with its own state (roomserver/internal/federation_gap.go).

// StateFetcher is the part of matrix/federation's client bridging a gap needs;
// *federation.Client implements it. A Config.Fetcher that does not implement it leaves
// gaps as errors.
type StateFetcher interface {
	State(ctx context.Context, destination, roomID, eventID string) (federation.StateResponse, error)
	GetEvent(ctx context.Context, destination, eventID string) (federation.Transaction, error)
}

// maxGapPrevEvents bounds the missing prev events whose states are fetched for one event.
const maxGapPrevEvents = 10

// stateAtGap fetches the states after the missing prev events of e from origin; ok is
// false when one of them cannot be had (the event then stays refused).
func (h *sendHandler) stateAtGap(ctx context.Context, sf StateFetcher, origin, roomID, version string, e *event.Event, missing []string) (rsapi.FederationEvent, bool) {
	fe := rsapi.FederationEvent{EventID: e.EventID(), JSON: e.JSON(), PrevStates: map[string][]string{}}
	if len(missing) > maxGapPrevEvents {
		return fe, false
	}
	log := logrus.WithField("origin", origin).WithField("event_id", e.EventID())
	sent := map[string]bool{}
	// take checks a fetched event; the checked ones of this room are sent as outliers.
	take := func(raw json.RawMessage) *event.Event {
		rv, err := h.check(ctx, raw, version)
		if err != nil || rv.e.RoomID() != roomID {
			return nil
		}
		if !sent[rv.e.EventID()] {
			sent[rv.e.EventID()] = true
			fe.Outliers = append(fe.Outliers, rv.e.JSON())
		}
		return rv.e
	}
	for _, prev := range missing {
		st, err := sf.State(ctx, origin, roomID, prev)
		if err != nil {
			log.WithError(err).WithField("prev_event", prev).Warn("state at a gap: /state failed")
			return fe, false
		}
		got, err := sf.GetEvent(ctx, origin, prev)
		if err != nil || len(got.PDUs) != 1 {
			log.WithError(err).WithField("prev_event", prev).Warn("state at a gap: /event failed")
			return fe, false
		}
		pe, err := h.check(ctx, got.PDUs[0], version)
		if err != nil || pe.e.EventID() != prev || pe.e.RoomID() != roomID {
			log.WithField("prev_event", prev).Warn("state at a gap: the prev event does not check")
			return fe, false
		}
		type tuple struct{ typ, key string }
		byTuple := map[tuple]string{}
		for _, raw := range st.PDUs {
			if s := take(raw); s != nil && s.StateKey() != nil {
				byTuple[tuple{s.Type(), *s.StateKey()}] = s.EventID()
			}
		}
		for _, raw := range st.AuthChain {
			take(raw)
		}
		if sk := pe.e.StateKey(); sk != nil {
			take(got.PDUs[0])
			byTuple[tuple{pe.e.Type(), *sk}] = prev
		}
		ids := make([]string, 0, len(byTuple))
		for _, id := range byTuple {
			ids = append(ids, id)
		}
		fe.PrevStates[prev] = ids
	}
	return fe, true
}

// *federation.Client (the Config.Fetcher of the binaries) bridges gaps.
var _ StateFetcher = (*federation.Client)(nil)
