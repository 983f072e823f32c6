package routing

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
)

// inputEDUs hands a transaction's EDUs to the eduserver (arrow 5), which checks each
// against origin (a server speaks only for its own users). Malformed EDUs are dropped
// here; an error means the eduserver could not take them, and the transaction is answered
// with it so that the origin retries it.
func (h *sendHandler) inputEDUs(ctx context.Context, origin string, raw []json.RawMessage) error {
	if h.edu == nil || len(raw) == 0 {
		return nil
	}
	edus := make([]eduapi.FederationEDU, 0, len(raw))
	for _, r := range raw {
		var e eduapi.FederationEDU
		if json.Unmarshal(r, &e) != nil || e.Type == "" || len(e.Content) == 0 || e.Content[0] != '{' {
			logrus.WithField("origin", origin).Info("federationapi: dropping a malformed EDU")
			continue
		}
		edus = append(edus, e)
	}
	if len(edus) == 0 {
		return nil
	}
	return h.edu.InputFederationEDUs(ctx, &eduapi.InputFederationEDUsRequest{Origin: origin, EDUs: edus})
}
