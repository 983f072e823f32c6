package consumers

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/sirupsen/logrus"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/syncapi/internal"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// EDUConsumer handles topic 3 (eduserver → syncapi): typing (kept in memory), receipts,
// to-device messages and presence (stored), each at the eduserver's own position on the edu stream.
type EDUConsumer struct {
	db       *storage.Database
	notifier *internal.Notifier
	log      *logrus.Entry
}

// NewEDUConsumer builds the topic 3 handler.
func NewEDUConsumer(db *storage.Database, n *internal.Notifier) *EDUConsumer {
	return &EDUConsumer{db: db, notifier: n, log: logrus.WithField("component", "syncapi.consumers.edu")}
}

// Handle is the eventlog.Handler for topic 3. Idempotent: a replayed position changes
// nothing. A record that cannot be used still takes its position, so the watermark never
// stops at it.
func (c *EDUConsumer) Handle(ctx context.Context, msg eventlog.Message) error {
	var out eduapi.OutputEDU
	if err := json.Unmarshal(msg.Value, &out); err != nil || out.StreamPos <= 0 {
		c.log.WithField("offset", msg.Offset).Error("unusable topic 3 record; dropped")
		return nil
	}
	var (
		adv          storage.Advance
		err          error
		rooms, users []string
		after        func() // updates the Notifier's record, before it learns the position
	)
	pos := out.StreamPos
	switch {
	case out.Kind == eduapi.OutputTypingKind && out.Typing != nil && out.Typing.RoomID != "":
		t := out.Typing
		adv, err = c.db.StoreTypingPosition(ctx, pos)
		typers := make([]internal.Typer, 0, len(t.Typers))
		for _, ty := range t.Typers {
			typers = append(typers, internal.Typer{UserID: ty.UserID, ExpiresMS: ty.ExpiresTS})
		}
		rooms = []string{t.RoomID}
		after = func() { c.notifier.SetTyping(t.RoomID, pos, typers) }
	case isReceipt(&out):
		r := out.Receipt
		adv, err = c.db.StoreReceipt(ctx, &storage.Receipt{RoomID: r.RoomID, UserID: r.UserID, Type: r.Type, ThreadID: r.ThreadID,
			EventID: r.EventID, TS: r.TS, StreamPos: pos})
		rooms = []string{r.RoomID}
		after = func() { c.notifier.ReceiptStored(r.RoomID, pos) }
	case isToDevice(&out):
		m := out.ToDevice
		adv, err = c.db.StoreToDevice(ctx, &storage.ToDevice{UserID: m.UserID, DeviceID: m.DeviceID, Sender: m.Sender, Type: m.Type,
			Content: m.Content, StreamPos: pos})
		users = []string{m.UserID}
		after = func() { c.notifier.ToDeviceStored(m.UserID, m.DeviceID, pos) }
	case out.Kind == eduapi.OutputPresenceKind && out.Presence != nil && out.Presence.UserID != "":
		pr := out.Presence
		p := storage.Presence{UserID: pr.UserID, Presence: pr.Presence, StatusMsg: pr.StatusMsg, LastActiveTS: pr.LastActiveTS,
			CurrentlyActive: pr.CurrentlyActive, StreamPos: pos}
		adv, err = c.db.StorePresence(ctx, &p)
		if err == nil && !adv.Duplicate {
			// Wake the user and everyone in a room they are joined to.
			users = []string{pr.UserID}
			var jerr error
			if rooms, jerr = c.joinedRooms(ctx, pr.UserID); jerr != nil && ctx.Err() == nil {
				c.log.WithError(jerr).Warn("reading the rooms of a user whose presence changed")
			}
		}
		after = func() { c.notifier.PresenceStored(p) }
	default:
		c.log.WithField("pos", pos).WithField("kind", out.Kind).Error("topic 3 record of unknown kind or incomplete; position skipped")
		adv, err = c.db.SkipPosition(ctx, storage.StreamEDU, pos)
	}
	return c.finish(ctx, adv, err, rooms, users, after)
}

// finish tells the notifier about one stored topic 3 record: after updates its record of
// the EDU, then the watermark moves and rooms and users are woken (with the targets of
// every position a closed gap made visible).
func (c *EDUConsumer) finish(ctx context.Context, adv storage.Advance, err error, rooms, users []string, after func()) error {
	if err != nil {
		return err
	}
	if adv.Duplicate {
		return nil
	}
	if after != nil {
		after()
	}
	if !adv.Advanced() {
		return nil // held back above a gap: told when the gap closes
	}
	if adv.To-adv.From > 1 {
		r, u := c.gapTargets(ctx, adv)
		rooms, users = append(rooms, r...), append(users, u...)
	}
	c.notifier.OnEDU(adv.To, rooms, users)
	return nil
}

// gapTargets returns whom to wake when a gap closed: the rooms and users of every
// position in (adv.From, adv.To) that became visible with it.
func (c *EDUConsumer) gapTargets(ctx context.Context, adv storage.Advance) (rooms, users []string) {
	r, u, err := c.db.EDUTargetsBetween(ctx, adv.From, adv.To)
	if err != nil {
		c.log.WithError(err).Error("reading newly visible topic 3 records")
	}
	rooms = append(r, c.notifier.TypingRoomsBetween(adv.From, adv.To)...)
	users = u
	for _, pu := range c.notifier.PresenceUsersBetween(adv.From, adv.To) {
		users = append(users, pu)
		if pr, err := c.joinedRooms(ctx, pu); err == nil {
			rooms = append(rooms, pr...)
		}
	}
	return rooms, users
}

// joinedRooms returns the rooms userID is joined to as far as this instance has seen
// (whom a presence change concerns).
func (c *EDUConsumer) joinedRooms(ctx context.Context, userID string) ([]string, error) {
	room, _, err := c.db.Watermarks(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := c.db.MembershipsAt(ctx, userID, room)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if m.Membership == "join" {
			out = append(out, m.RoomID)
		}
	}
	return out, nil
}

// isToDevice reports whether out is a complete to-device record.
func isToDevice(out *eduapi.OutputEDU) bool {
	return out.Kind == eduapi.OutputToDeviceKind && out.ToDevice != nil && out.ToDevice.UserID != "" && out.ToDevice.DeviceID != "" &&
		json.Valid(out.ToDevice.Content)
}

// EDUMaxBatch is the most topic 3 records HandleBatch is given at once.
const EDUMaxBatch = 256

// HandleBatch is the eventlog.BatchHandler for topic 3: consecutive to-device and receipt
// records (one send-to-device request for many devices is one record per device, all
// under the sender's key; a room's members' receipts share the room's key) are stored in
// one transaction (storage.StoreEDURun) and told to the notifier together; every other
// record (typing, presence) goes through Handle in its place in the order. Idempotent like
// Handle; after an error the log delivers the whole batch again.
func (c *EDUConsumer) HandleBatch(ctx context.Context, msgs []eventlog.Message) error {
	var run []storage.EDURecord
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		advs, err := c.db.StoreEDURun(ctx, run)
		if err != nil {
			return err
		}
		// Every record's device or room is recorded first, then the watermark moves once
		// to the run's end and the users and rooms are woken together (one Notifier move
		// for the run, not one per record); a gap the run closed (topic 3's partitions
		// interleave) is looked up once, over the whole span the watermark moved.
		var rooms, users []string
		var moved storage.Advance
		gap := false
		for i, adv := range advs {
			if adv.Duplicate {
				continue
			}
			if m := run[i].ToDevice; m != nil {
				c.notifier.ToDeviceStored(m.UserID, m.DeviceID, m.StreamPos)
			} else {
				r := run[i].Receipt
				c.notifier.ReceiptStored(r.RoomID, r.StreamPos)
			}
			if !adv.Advanced() {
				continue // held back above a gap: told when the gap closes
			}
			if m := run[i].ToDevice; m != nil {
				users = append(users, m.UserID)
			} else if r := run[i].Receipt; !slices.Contains(rooms, r.RoomID) {
				rooms = append(rooms, r.RoomID)
			}
			if moved.To == 0 {
				moved.From = adv.From
			}
			moved.To = adv.To
			gap = gap || adv.To-adv.From > 1
		}
		if gap {
			r, u := c.gapTargets(ctx, moved)
			rooms, users = append(rooms, r...), append(users, u...)
		}
		if moved.To > 0 {
			c.notifier.OnEDU(moved.To, rooms, users)
		}
		run = run[:0]
		return nil
	}
	for _, msg := range msgs {
		var out eduapi.OutputEDU
		if json.Unmarshal(msg.Value, &out) == nil && out.StreamPos > 0 {
			if isToDevice(&out) {
				m := out.ToDevice
				run = append(run, storage.EDURecord{ToDevice: &storage.ToDevice{UserID: m.UserID, DeviceID: m.DeviceID, Sender: m.Sender,
					Type: m.Type, Content: m.Content, StreamPos: out.StreamPos}})
				continue
			}
			if isReceipt(&out) {
				r := out.Receipt
				run = append(run, storage.EDURecord{Receipt: &storage.Receipt{RoomID: r.RoomID, UserID: r.UserID, Type: r.Type,
					ThreadID: r.ThreadID, EventID: r.EventID, TS: r.TS, StreamPos: out.StreamPos}})
				continue
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if err := c.Handle(ctx, msg); err != nil {
			return err
		}
	}
	return flush()
}

// isReceipt is whether a topic 3 record is a complete receipt (Handle's receipt case).
func isReceipt(out *eduapi.OutputEDU) bool {
	r := out.Receipt
	return out.Kind == eduapi.OutputReceiptKind && r != nil && r.RoomID != "" && r.UserID != "" && r.EventID != ""
}
