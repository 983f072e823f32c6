package consumers

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/syncapi/internal"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// EDUConsumer handles topic 3 (eduserver → syncapi): typing (kept in memory), receipts and
// to-device messages (stored), each at the eduserver's own position on the edu stream.
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
	case out.Kind == eduapi.OutputReceiptKind && out.Receipt != nil && out.Receipt.RoomID != "" && out.Receipt.UserID != "" &&
		out.Receipt.EventID != "":
		r := out.Receipt
		adv, err = c.db.StoreReceipt(ctx, &storage.Receipt{RoomID: r.RoomID, UserID: r.UserID, Type: r.Type, ThreadID: r.ThreadID,
			EventID: r.EventID, TS: r.TS, StreamPos: pos})
		rooms = []string{r.RoomID}
		after = func() { c.notifier.ReceiptStored(r.RoomID, pos) }
	case out.Kind == eduapi.OutputToDeviceKind && out.ToDevice != nil && out.ToDevice.UserID != "" && out.ToDevice.DeviceID != "" &&
		json.Valid(out.ToDevice.Content):
		m := out.ToDevice
		adv, err = c.db.StoreToDevice(ctx, &storage.ToDevice{UserID: m.UserID, DeviceID: m.DeviceID, Sender: m.Sender, Type: m.Type,
			Content: m.Content, StreamPos: pos})
		users = []string{m.UserID}
		after = func() { c.notifier.ToDeviceStored(m.UserID, m.DeviceID, pos) }
	default:
		c.log.WithField("pos", pos).WithField("kind", out.Kind).Error("topic 3 record of unknown kind or incomplete; position skipped")
		adv, err = c.db.SkipPosition(ctx, storage.StreamEDU, pos)
	}
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
		// A gap closed: wake the targets of every position that became visible.
		r, u, err := c.db.EDUTargetsBetween(ctx, adv.From, adv.To)
		if err != nil {
			c.log.WithError(err).Error("reading newly visible topic 3 records")
		}
		rooms = append(append(rooms, r...), c.notifier.TypingRoomsBetween(adv.From, adv.To)...)
		users = append(users, u...)
	}
	c.notifier.OnEDU(adv.To, rooms, users)
	return nil
}
