package routing

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
)

// inputEDUs hands a transaction's EDUs to the eduserver (arrow 5), which checks each
// against origin (a server speaks only for its own users). Malformed EDUs are dropped
// here; an error means the eduserver could not take them, and the transaction is answered
// with it so that the origin retries it.
// m.device_list_update and m.signing_key_update EDUs go to the keyserver instead (arrow
// 15), which checks them against origin likewise.
func (h *sendHandler) inputEDUs(ctx context.Context, origin string, raw []json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	edus := make([]eduapi.FederationEDU, 0, len(raw))
	var devices []keyapi.DeviceListUpdate
	var signingKeys []keyapi.SigningKeyUpdate
	for _, r := range raw {
		var e eduapi.FederationEDU
		if json.Unmarshal(r, &e) != nil || e.Type == "" || len(e.Content) == 0 || e.Content[0] != '{' {
			logrus.WithField("origin", origin).Info("federationapi: dropping a malformed EDU")
			continue
		}
		if e.Type == "m.device_list_update" {
			var u keyapi.DeviceListUpdate
			if json.Unmarshal(e.Content, &u) != nil {
				logrus.WithField("origin", origin).Info("federationapi: dropping a malformed m.device_list_update")
				continue
			}
			devices = append(devices, u)
			continue
		}
		if e.Type == "m.signing_key_update" {
			var u keyapi.SigningKeyUpdate
			if json.Unmarshal(e.Content, &u) != nil {
				logrus.WithField("origin", origin).Info("federationapi: dropping a malformed m.signing_key_update")
				continue
			}
			signingKeys = append(signingKeys, u)
			continue
		}
		edus = append(edus, e)
	}
	if len(devices)+len(signingKeys) > 0 && h.cfg.KeyServer != nil {
		if err := h.cfg.KeyServer.InputDeviceListUpdates(ctx, &keyapi.InputDeviceListUpdatesRequest{Origin: origin, Updates: devices,
			SigningKeyUpdates: signingKeys}); err != nil {
			return err
		}
	}
	if len(edus) == 0 || h.edu == nil {
		return nil
	}
	// EDUs of rooms whose server ACL denies the origin are dropped (acl.go).
	edus, err := aclFilterEDUs(ctx, h.rs, origin, edus)
	if err != nil || len(edus) == 0 {
		return err
	}
	return h.edu.InputFederationEDUs(ctx, &eduapi.InputFederationEDUsRequest{Origin: origin, EDUs: edus})
}
