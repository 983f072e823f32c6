package routing

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// AuthChainFetcher is the part of matrix/federation's client that fetches an event's auth
// chain (GET /event_auth); *federation.Client implements it.
type AuthChainFetcher interface {
	EventAuth(ctx context.Context, destination, roomID, eventID string) (federation.EventAuthResponse, error)
}

// withAuthChain is arrow 3 for an event the roomserver could not check because it lacks
// some of its auth events (res.MissingAuthEvents) though no prev event is missing: the
// event's auth chain is fetched from the origin (/event_auth), every event of it checked
// like a PDU (content hash, signatures: arrow 11), and the event input again with them as
// outliers. Without a fetcher that can, or when the origin does not answer, the first
// result stands.
func (h *sendHandler) withAuthChain(ctx context.Context, origin, roomID, version string, e *event.Event, res rsapi.FederationEventResult) (rsapi.FederationEventResult, error) {
	af, ok := h.cfg.Fetcher.(AuthChainFetcher)
	if !ok || len(res.MissingAuthEvents) == 0 || len(res.MissingPrevEvents) > 0 {
		return res, nil
	}
	chain, err := af.EventAuth(ctx, origin, roomID, e.EventID())
	if err != nil {
		logrus.WithError(err).WithField("origin", origin).WithField("event_id", e.EventID()).Warn("event_auth failed")
		res.Error += " (event_auth failed)"
		return res, nil
	}
	var outliers []json.RawMessage
	for _, raw := range chain.AuthChain {
		rv, err := h.check(ctx, raw, version)
		if err != nil || rv.e.RoomID() != roomID {
			continue // a bad event of the chain: left out (what needs it is rejected)
		}
		outliers = append(outliers, rv.e.JSON())
	}
	if len(outliers) == 0 {
		return res, nil
	}
	return h.inputFE(ctx, origin, roomID, rsapi.FederationEvent{EventID: e.EventID(), JSON: e.JSON(), Outliers: outliers})
}
