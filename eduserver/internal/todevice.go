package internal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
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
// stages nothing. Messages for other servers' users go to topic 5, one m.direct_to_device
// EDU per server, in the same transaction (federation_out.go).
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
	remote := map[string]map[string]map[string]json.RawMessage{} // server → user → device → content
	for _, u := range users {
		_, server, err := matrix.ParseUserID(u)
		if err != nil {
			return httputil.InvalidParam("Invalid user ID %q", u)
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
			if server != e.serverName {
				// Another server's user: one m.direct_to_device EDU per server (topic 5).
				if remote[server] == nil {
					remote[server] = map[string]map[string]json.RawMessage{}
				}
				if remote[server][u] == nil {
					remote[server][u] = map[string]json.RawMessage{}
				}
				remote[server][u][d] = content
				continue
			}
			recs = append(recs, api.OutputEDU{Kind: api.OutputToDeviceKind, ToDevice: &api.OutputToDevice{
				Sender: req.Sender, Type: req.Type, UserID: u, DeviceID: d, Content: content}})
		}
	}
	var fed []fedRecord
	if e.Fed.FedTopic != "" && e.isLocal(req.Sender) {
		servers := make([]string, 0, len(remote))
		for s := range remote {
			servers = append(servers, s)
		}
		sort.Strings(servers)
		for _, server := range servers {
			r, err := newFedRecord(server, api.EDUDirectToDevice, []string{server}, map[string]any{"sender": req.Sender, "type": req.Type,
				"message_id": messageID(), "messages": remote[server]})
			if err != nil {
				return err
			}
			fed = append(fed, r)
		}
	}
	err := e.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		fresh, err := storage.InsertTxn(ctx, tx, req.Sender, req.SenderDevice, req.TxnID, e.nowMS())
		if err != nil || !fresh {
			return err
		}
		if err := e.stageFederation(ctx, tx, fed); err != nil {
			return err
		}
		// Keyed by the sender: one request's records for many devices are one key's run,
		// which the syncapi stores in one transaction (and one sender's messages to a
		// device stay in order).
		return e.stage(ctx, tx, recs, func(r *api.OutputEDU) string { return r.ToDevice.Sender })
	})
	if err != nil {
		return err
	}
	e.outbox.Kick()
	if n := len(recs); n > 0 && recs[n-1].StreamPos > 0 {
		// The sender's and the recipients' next /sync reflect the messages.
		targets := []string{req.Sender}
		for i := range recs {
			targets = append(targets, recs[i].ToDevice.UserID)
		}
		e.noteWrite(recs[n-1].StreamPos, targets...)
	}
	return nil
}

// messageID is a fresh message_id of an m.direct_to_device EDU.
func messageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
