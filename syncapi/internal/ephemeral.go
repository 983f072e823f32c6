package internal

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// MaxToDevicePerSync is how many to-device messages one /sync response carries at most
// (as Synapse); the rest follow in the next response, which then comes at once.
const MaxToDevicePerSync = 100

// Topic 3 in /sync: to_device (toDevice) and each joined room's ephemeral events
// (ephemeral: m.typing and m.receipt). What the Notifier holds in memory (edustate.go)
// says which devices and rooms have anything, so a user with nothing on the edu stream
// pays no query.

// toDevice acknowledges the device's messages up to the since token (an incremental sync:
// the client has them, so they are deleted) and returns those after it up to upTo, at most
// MaxToDevicePerSync, and the edu position the response may claim: upTo, or the last
// message returned when more are waiting.
func (s *Syncer) toDevice(ctx context.Context, req *SyncRequest, upTo int64) ([]json.RawMessage, int64, error) {
	sp, ok := s.notifier.toDevicePending(req.UserID, req.DeviceID)
	if !ok || req.DeviceID == "" {
		return nil, upTo, nil
	}
	var since int64
	if req.Since != nil {
		since = min(req.Since.EDU, upTo)
		ack := since
		if s.ToDeviceHold != nil && sp.min <= ack {
			// The device's live sync v3 sessions may not have these yet.
			held, ok, err := s.ToDeviceHold(ctx, req.UserID, req.DeviceID)
			if err != nil {
				return nil, 0, err
			}
			if ok {
				ack = min(ack, held)
			}
		}
		if sp.min <= ack {
			// Grouped with the other devices' deletes of the moment (todeviceacks.go).
			if err := s.toDeviceAcks.delete(ctx, s.db, storage.ToDeviceAck{UserID: req.UserID, DeviceID: req.DeviceID, UpTo: ack}); err != nil {
				return nil, 0, err
			}
			s.notifier.toDeviceAcked(req.UserID, req.DeviceID, ack)
		}
	}
	if sp.max <= since {
		return nil, upTo, nil
	}
	msgs, err := s.db.ToDeviceBetween(ctx, req.UserID, req.DeviceID, since, upTo, MaxToDevicePerSync)
	if err != nil {
		return nil, 0, err
	}
	out := make([]json.RawMessage, 0, len(msgs))
	for _, m := range msgs {
		ev, err := json.Marshal(struct {
			Type    string          `json:"type"`
			Sender  string          `json:"sender"`
			Content json.RawMessage `json:"content"`
		}{m.Type, m.Sender, m.Content})
		if err != nil {
			return nil, 0, err
		}
		out = append(out, ev)
	}
	if len(msgs) == MaxToDevicePerSync {
		upTo = msgs[len(msgs)-1].StreamPos
	}
	return out, upTo, nil
}

// ephemeral returns the ephemeral events of the given joined rooms for the window
// (since, upTo] of the edu stream: m.typing when a room's typers changed in it (the
// current typers), m.receipt with the receipts stored in it (m.read.private only the
// user's own). fresh rooms (an initial sync, or joined since the token) get the current
// typers and every receipt.
func (s *Syncer) ephemeral(ctx context.Context, req *SyncRequest, rooms []string, fresh map[string]bool, since, upTo int64) (map[string][]json.RawMessage, error) {
	f := &req.Filter.Room.Ephemeral
	nowMS := s.Now().UnixMilli()
	out := map[string][]json.RawMessage{}
	var oldRooms, newRooms []string
	for _, r := range rooms {
		roomSince := since
		if fresh[r] {
			roomSince = -1
			newRooms = append(newRooms, r)
		} else {
			oldRooms = append(oldRooms, r)
		}
		// Rendered once per change for every member's /sync (edustate.go).
		ev, empty, changed, ok := s.notifier.typingEvent(r, roomSince, nowMS)
		if !ok || !changed || (roomSince < 0 && empty) || !f.MatchesEvent(r, "m.typing", "", nil) {
			continue
		}
		out[r] = append(out[r], ev)
	}
	var receipts []storage.Receipt
	for _, q := range []struct {
		rooms []string
		after int64
	}{{s.notifier.roomsWithReceipts(oldRooms, since), since}, {s.notifier.roomsWithReceipts(newRooms, 0), 0}} {
		rs, err := s.db.ReceiptsBetween(ctx, q.rooms, q.after, upTo)
		if err != nil {
			return nil, err
		}
		receipts = append(receipts, rs...)
	}
	// content: event ID → receipt type → user ID → {ts, thread_id}
	type receiptInfo struct {
		TS       int64  `json:"ts"`
		ThreadID string `json:"thread_id,omitempty"`
	}
	byRoom := map[string]map[string]map[string]map[string]receiptInfo{}
	for _, r := range receipts {
		if r.Type == "m.read.private" && r.UserID != req.UserID {
			continue
		}
		if !f.MatchesEvent(r.RoomID, "m.receipt", "", nil) {
			continue
		}
		c := byRoom[r.RoomID]
		if c == nil {
			c = map[string]map[string]map[string]receiptInfo{}
			byRoom[r.RoomID] = c
		}
		if c[r.EventID] == nil {
			c[r.EventID] = map[string]map[string]receiptInfo{}
		}
		if c[r.EventID][r.Type] == nil {
			c[r.EventID][r.Type] = map[string]receiptInfo{}
		}
		c[r.EventID][r.Type][r.UserID] = receiptInfo{TS: r.TS, ThreadID: r.ThreadID}
	}
	roomIDs := make([]string, 0, len(byRoom))
	for r := range byRoom {
		roomIDs = append(roomIDs, r)
	}
	sort.Strings(roomIDs)
	for _, r := range roomIDs {
		ev, err := json.Marshal(map[string]any{"type": "m.receipt", "content": byRoom[r]})
		if err != nil {
			return nil, err
		}
		out[r] = append(out[r], ev)
	}
	return out, nil
}
