package internal

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/eduserver/storage"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
)

// maxTxnIDLength bounds a transaction ID.
const maxTxnIDLength = 255

// SendToDevice implements api.EDUServerAPI. In one transaction it records the sending
// device's transaction ID and stages one topic 3 record per target device (key: the
// target's user ID, so one user's messages stay in order); a transaction ID done before
// stages nothing. Only this server's users are delivered to; other servers' users are
// skipped until federation exists (arrow 5, topic 5).
func (e *EDUServer) SendToDevice(ctx context.Context, req *api.SendToDeviceRequest) error {
	if req.Sender == "" || req.SenderDevice == "" || req.TxnID == "" || req.Type == "" {
		return httputil.MissingParam("sender, sender_device, txn_id and type are required")
	}
	if len(req.TxnID) > maxTxnIDLength || len(req.Type) > matrix.MaxIDLength {
		return httputil.InvalidParam("txn_id or type is too long")
	}
	var recs []api.OutputEDU
	users := make([]string, 0, len(req.Messages))
	for u := range req.Messages {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		_, server, err := matrix.ParseUserID(u)
		if err != nil {
			return httputil.InvalidParam("Invalid user ID %q", u)
		}
		if server != e.serverName {
			continue // other servers: with federation (topic 5)
		}
		devices := make([]string, 0, len(req.Messages[u]))
		for d := range req.Messages[u] {
			devices = append(devices, d)
		}
		sort.Strings(devices)
		for _, d := range devices {
			content := req.Messages[u][d]
			if len(content) > api.MaxToDeviceMessageSize {
				return httputil.TooLarge("A to-device message is larger than %d bytes", api.MaxToDeviceMessageSize)
			}
			var obj map[string]json.RawMessage
			if d == "" || json.Unmarshal(content, &obj) != nil || obj == nil {
				return httputil.BadJSON("Each to-device message must be a JSON object for a device")
			}
			recs = append(recs, api.OutputEDU{Kind: api.OutputToDeviceKind, ToDevice: &api.OutputToDevice{
				Sender: req.Sender, Type: req.Type, UserID: u, DeviceID: d, Content: content}})
		}
	}
	err := e.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		fresh, err := storage.InsertTxn(ctx, tx, req.Sender, req.SenderDevice, req.TxnID, e.nowMS())
		if err != nil || !fresh {
			return err
		}
		return e.stage(ctx, tx, recs, func(r *api.OutputEDU) string { return r.ToDevice.UserID })
	})
	if err != nil {
		return err
	}
	e.outbox.Kick()
	return nil
}
