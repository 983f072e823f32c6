package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/eventlog"
)

// EDUConsumer turns topic 3 records (eduserver output: typing, receipts, presence,
// to-device) into queue rows for the services that asked for them (MSC2409/MSC3202), so
// they go out in the transactions' ephemeral and de.sorunome.msc2409.to_device fields,
// persisted and retried like events. It consumes topic 3 under the group "appservice".
//
//   - typing and receipts: services with receive_ephemeral whose room namespaces hold the
//     room or one of whose users is joined to it (the topic 2 consumer's members);
//   - presence: services with receive_ephemeral whose user namespaces hold the user;
//   - to-device: services with org.matrix.msc3202 or push_to_device whose user
//     namespaces hold the recipient.
type EDUConsumer struct {
	db      *storage.Database
	queues  *Queues
	regs    *api.Registrations
	members *Consumer
	log     *logrus.Entry
	now     func() time.Time
}

// NewEDUConsumer returns the topic 3 consumer; members is the topic 2 consumer, whose
// room members say which rooms a service is in.
func NewEDUConsumer(db *storage.Database, queues *Queues, regs *api.Registrations, members *Consumer) *EDUConsumer {
	return &EDUConsumer{db: db, queues: queues, regs: regs, members: members, now: time.Now,
		log: logrus.WithField("component", "appservice.edu")}
}

// Run consumes topic (the full name of topic 3) until ctx is done.
func (c *EDUConsumer) Run(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return consumer.ConsumeBatch(ctx, topic, ConsumerGroup, consumeBatch, c.Handle)
}

// wantsEDUs says whether some service asked for topic 3's content at all.
func (c *EDUConsumer) wantsEDUs() bool {
	return slices.ContainsFunc(c.regs.All(), func(r *api.Registration) bool {
		return r.HasURL() && (r.ReceiveEphemeral || r.WantsToDevice())
	})
}

// Handle queues a run of topic 3 records. Each row's key is "edu:" + the record's stream
// position (the eduserver's, unique per record), so a run delivered again queues nothing
// twice.
func (c *EDUConsumer) Handle(ctx context.Context, msgs []eventlog.Message) error {
	if !c.wantsEDUs() {
		return nil
	}
	var rows []storage.QueuedEvent
	var services []string
	for _, m := range msgs {
		var out eduapi.OutputEDU
		if err := json.Unmarshal(m.Value, &out); err != nil {
			c.log.WithError(err).WithField("offset", m.Offset).Error("skipping malformed topic 3 record")
			continue
		}
		js, kind, interested := c.route(&out)
		if js == nil {
			continue
		}
		key := fmt.Sprintf("edu:%s:%d", out.Kind, out.StreamPos)
		if out.ToDevice != nil {
			key += ":" + out.ToDevice.UserID + ":" + out.ToDevice.DeviceID
		}
		for _, reg := range c.regs.All() {
			if !reg.HasURL() || !interested(reg) {
				continue
			}
			rows = append(rows, storage.QueuedEvent{ASID: reg.ID, EventID: key, JSON: js, Kind: kind})
			if !slices.Contains(services, reg.ID) {
				services = append(services, reg.ID)
			}
		}
	}
	if err := c.db.Apply(ctx, rows, nil); err != nil {
		return err
	}
	eventsQueued.Add(float64(len(rows)))
	for _, id := range services {
		c.queues.Notify(id)
	}
	return nil
}

// inRoom says whether reg is in room: its room namespaces, or a joined user of its own.
func (c *EDUConsumer) inRoom(reg *api.Registration, room string) bool {
	return reg.InterestedInRoom(room) || slices.ContainsFunc(c.members.Members(room), reg.OwnsUser)
}

// route is a record's JSON as a service receives it, the queue kind and who wants it; a
// nil JSON when nobody could (an unknown kind).
func (c *EDUConsumer) route(out *eduapi.OutputEDU) ([]byte, string, func(*api.Registration) bool) {
	var v any
	var kind = storage.KindEphemeral
	var interested func(*api.Registration) bool
	switch {
	case out.Kind == eduapi.OutputTypingKind && out.Typing != nil:
		ids := make([]string, 0, len(out.Typing.Typers))
		for _, t := range out.Typing.Typers {
			ids = append(ids, t.UserID)
		}
		room := out.Typing.RoomID
		v = map[string]any{"type": "m.typing", "room_id": room, "content": map[string]any{"user_ids": ids}}
		interested = func(r *api.Registration) bool { return r.ReceiveEphemeral && c.inRoom(r, room) }
	case out.Kind == eduapi.OutputReceiptKind && out.Receipt != nil:
		rc := out.Receipt
		rec := map[string]any{"ts": rc.TS}
		if rc.ThreadID != "" {
			rec["thread_id"] = rc.ThreadID
		}
		v = map[string]any{"type": "m.receipt", "room_id": rc.RoomID,
			"content": map[string]any{rc.EventID: map[string]any{rc.Type: map[string]any{rc.UserID: rec}}}}
		interested = func(r *api.Registration) bool { return r.ReceiveEphemeral && c.inRoom(r, rc.RoomID) }
	case out.Kind == eduapi.OutputPresenceKind && out.Presence != nil:
		p := out.Presence
		content := map[string]any{"user_id": p.UserID, "presence": p.Presence, "currently_active": p.CurrentlyActive}
		if p.LastActiveTS > 0 {
			content["last_active_ago"] = max(0, c.now().UnixMilli()-p.LastActiveTS)
		}
		if p.StatusMsg != nil {
			content["status_msg"] = *p.StatusMsg
		}
		v = map[string]any{"type": "m.presence", "sender": p.UserID, "content": content}
		interested = func(r *api.Registration) bool { return r.ReceiveEphemeral && r.OwnsUser(p.UserID) }
	case out.Kind == eduapi.OutputToDeviceKind && out.ToDevice != nil:
		td := out.ToDevice
		content := td.Content
		if len(content) == 0 {
			content = json.RawMessage(`{}`)
		}
		v = map[string]any{"type": td.Type, "sender": td.Sender, "to_user_id": td.UserID, "to_device_id": td.DeviceID, "content": content}
		kind = storage.KindToDevice
		interested = func(r *api.Registration) bool { return r.WantsToDevice() && r.OwnsUser(td.UserID) }
	default:
		return nil, "", nil
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, "", nil
	}
	return js, kind, interested
}
