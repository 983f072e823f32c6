package internal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/eduserver/storage"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
)

// Arrow 5 (federationapi → eduserver): the EDUs of a transaction from another server. A
// server speaks only for its own users: an EDU about a user of another server than the
// transaction's origin is dropped, and so is typing or a receipt of a user not joined to
// the room (arrow 19 asks the roomserver). What passes reaches local users on topic 3
// like a local user's EDU, and goes nowhere else (topic 5 carries only local users' EDUs).

// remoteTypingTimeout is how long another server's user types without a renewal.
const remoteTypingTimeout = 60 * 1000 // ms, as Synapse's federation typing timeout

// InputFederationEDUs implements api.EDUServerAPI.
func (e *EDUServer) InputFederationEDUs(ctx context.Context, req *api.InputFederationEDUsRequest) error {
	if req.Origin == "" {
		return httputil.MissingParam("origin is required")
	}
	for _, edu := range req.EDUs {
		log := e.log.WithField("origin", req.Origin).WithField("edu_type", edu.Type)
		var err error
		switch edu.Type {
		case api.EDUTyping:
			err = e.inputTyping(ctx, req.Origin, edu.Content, log)
		case api.EDUReceipt:
			err = e.inputReceipts(ctx, req.Origin, edu.Content, log)
		case api.EDUDirectToDevice:
			err = e.inputToDevice(ctx, req.Origin, edu.Content, log)
		case api.EDUPresence:
			err = e.inputPresence(ctx, req.Origin, edu.Content, log)
		default:
			log.Debug("ignoring an EDU of a type the eduserver does not handle")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fromOrigin reports whether userID is a valid user ID of origin.
func fromOrigin(userID, origin string) bool {
	_, server, err := matrix.ParseUserID(userID)
	return err == nil && server == origin
}

// joined reports whether userID is joined to roomID (arrow 19). Without a roomserver
// nothing from other servers about rooms is taken.
func (e *EDUServer) joined(ctx context.Context, roomID, userID string) (bool, error) {
	if e.Fed.RoomServer == nil {
		return false, nil
	}
	m, _, err := e.Fed.RoomServer.QueryMembership(ctx, roomID, userID)
	if err != nil {
		if me := matrixErr(err); me != nil && me.ErrCode == "M_NOT_FOUND" {
			return false, nil
		}
		return false, err
	}
	return m == "join", nil
}

func (e *EDUServer) inputTyping(ctx context.Context, origin string, content json.RawMessage, log *logrus.Entry) error {
	var c struct {
		RoomID string `json:"room_id"`
		UserID string `json:"user_id"`
		Typing bool   `json:"typing"`
	}
	if json.Unmarshal(content, &c) != nil || c.RoomID == "" || !fromOrigin(c.UserID, origin) {
		log.Info("dropping a malformed m.typing EDU, or one about a user of another server")
		return nil
	}
	if ok, err := e.joined(ctx, c.RoomID, c.UserID); err != nil || !ok {
		if !ok && err == nil {
			log.WithField("room_id", c.RoomID).Info("dropping m.typing of a user not joined to the room")
		}
		return err
	}
	return e.SetTyping(ctx, &api.SetTypingRequest{RoomID: c.RoomID, UserID: c.UserID, Typing: c.Typing, TimeoutMS: remoteTypingTimeout})
}

func (e *EDUServer) inputReceipts(ctx context.Context, origin string, content json.RawMessage, log *logrus.Entry) error {
	// room ID → receipt type → user ID → {event_ids, data}
	var c map[string]map[string]map[string]struct {
		EventIDs []string `json:"event_ids"`
		Data     struct {
			TS       int64  `json:"ts"`
			ThreadID string `json:"thread_id"`
		} `json:"data"`
	}
	if json.Unmarshal(content, &c) != nil {
		log.Info("dropping a malformed m.receipt EDU")
		return nil
	}
	for roomID, types := range c {
		for typ, users := range types {
			if typ != api.ReceiptRead {
				continue // only public receipts travel
			}
			for userID, r := range users {
				if !fromOrigin(userID, origin) || len(r.EventIDs) == 0 {
					log.WithField("user_id", userID).Info("dropping a receipt of a user of another server, or without an event")
					continue
				}
				ok, err := e.joined(ctx, roomID, userID)
				if err != nil {
					return err
				}
				if !ok {
					log.WithField("room_id", roomID).Info("dropping a receipt of a user not joined to the room")
					continue
				}
				err = e.SetReceipt(ctx, &api.SetReceiptRequest{RoomID: roomID, UserID: userID, Type: typ,
					EventID: r.EventIDs[len(r.EventIDs)-1], ThreadID: r.Data.ThreadID, TS: r.Data.TS})
				if me := matrixErr(err); me != nil && me.Status < 500 {
					log.WithError(err).Info("dropping an unusable receipt")
					continue
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// remoteToDeviceDevice is the sending "device" under which a server's to-device message
// IDs are remembered (its message_id makes a repeat a no-op).
const remoteToDeviceDevice = "#federation"

func (e *EDUServer) inputToDevice(ctx context.Context, origin string, content json.RawMessage, log *logrus.Entry) error {
	var c struct {
		Sender    string                                `json:"sender"`
		Type      string                                `json:"type"`
		MessageID string                                `json:"message_id"`
		Messages  map[string]map[string]json.RawMessage `json:"messages"`
	}
	if json.Unmarshal(content, &c) != nil || c.Type == "" || c.MessageID == "" || !fromOrigin(c.Sender, origin) ||
		len(c.MessageID) > maxTxnIDLength || len(c.Type) > matrix.MaxIDLength {
		log.Info("dropping a malformed m.direct_to_device EDU, or one from a user of another server")
		return nil
	}
	var recs []api.OutputEDU
	users := make([]string, 0, len(c.Messages))
	for u := range c.Messages {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		if !e.isLocal(u) {
			log.WithField("user_id", u).Info("dropping a to-device message for a user not of this server")
			continue
		}
		devices := map[string]json.RawMessage{}
		for d, m := range c.Messages[u] {
			var obj map[string]json.RawMessage
			if d == "" || len(d) > matrix.MaxIDLength || len(m) > api.MaxToDeviceMessageSize || json.Unmarshal(m, &obj) != nil || obj == nil {
				log.WithField("user_id", u).Info("dropping a to-device message that is no JSON object or too large")
				continue
			}
			if d != "*" {
				devices[d] = m
				continue
			}
			if e.Fed.Devices == nil {
				continue
			}
			all, err := e.Fed.Devices.ListDevices(ctx, u)
			if err != nil {
				return err
			}
			for _, dev := range all {
				devices[dev.DeviceID] = m
			}
		}
		ids := make([]string, 0, len(devices))
		for d := range devices {
			ids = append(ids, d)
		}
		sort.Strings(ids)
		for _, d := range ids {
			recs = append(recs, api.OutputEDU{Kind: api.OutputToDeviceKind, ToDevice: &api.OutputToDevice{
				Sender: c.Sender, Type: c.Type, UserID: u, DeviceID: d, Content: devices[d]}})
		}
	}
	err := e.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		fresh, err := storage.InsertTxn(ctx, tx, c.Sender, remoteToDeviceDevice, c.MessageID, e.nowMS())
		if err != nil || !fresh {
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
		targets := make([]string, 0, n)
		for i := range recs {
			targets = append(targets, recs[i].ToDevice.UserID)
		}
		e.noteWrite(recs[n-1].StreamPos, targets...)
	}
	return nil
}

func (e *EDUServer) inputPresence(ctx context.Context, origin string, content json.RawMessage, log *logrus.Entry) error {
	if !e.PresenceEnabled {
		return nil
	}
	var c struct {
		Push []struct {
			UserID        string  `json:"user_id"`
			Presence      string  `json:"presence"`
			StatusMsg     *string `json:"status_msg"`
			LastActiveAgo int64   `json:"last_active_ago"`
		} `json:"push"`
	}
	if json.Unmarshal(content, &c) != nil {
		log.Info("dropping a malformed m.presence EDU")
		return nil
	}
	for _, p := range c.Push {
		switch {
		case !fromOrigin(p.UserID, origin):
		case p.Presence != api.PresenceOnline && p.Presence != api.PresenceUnavailable && p.Presence != api.PresenceOffline:
		case p.StatusMsg != nil && len(*p.StatusMsg) > api.MaxStatusMsgLength:
		default:
			ts := e.nowMS() - max(0, p.LastActiveAgo)
			if err := e.setPresence(ctx, &api.SetPresenceRequest{UserID: p.UserID, Presence: p.Presence, StatusMsg: p.StatusMsg}, ts); err != nil {
				return err
			}
			continue
		}
		log.WithField("user_id", p.UserID).Info("dropping a presence update of a user of another server, or malformed")
	}
	return nil
}

// matrixErr is err's *httputil.MatrixError, if it has one.
func matrixErr(err error) *httputil.MatrixError {
	var me *httputil.MatrixError
	if errors.As(err, &me) {
		return me
	}
	return nil
}
