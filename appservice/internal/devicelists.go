package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
)

// RoomsForUser is the part of the roomserver the device-list consumer asks (arrow 23:
// appservice → roomserver): the rooms a user is joined to.
type RoomsForUser interface {
	QueryRoomsForUser(ctx context.Context, userID string, memberships []string) ([]string, error)
}

// KeyChangeConsumer turns topic 7 records (keyserver → syncapi: a user's device or
// cross-signing keys changed) into device-list rows for the services with
// org.matrix.msc3202 (MSC3202), so their transactions carry
// org.matrix.msc3202.device_lists.changed: a service gets a user whose keys changed when
// the user is its own or is joined to a room the service is in (its room namespaces, or
// one of its users joined there: the topic 2 consumer's members). A change with an
// audience (a signature only its signer sees) goes only to services owning one of the
// audience. It consumes topic 7 under the group "appservice".
type KeyChangeConsumer struct {
	db      *storage.Database
	queues  *Queues
	regs    *api.Registrations
	members *Consumer
	rooms   RoomsForUser
	log     *logrus.Entry
}

// NewKeyChangeConsumer returns the topic 7 consumer; rooms answers which rooms a user is
// in (nil: only the services' own users' changes are sent).
func NewKeyChangeConsumer(db *storage.Database, queues *Queues, regs *api.Registrations, members *Consumer, rooms RoomsForUser) *KeyChangeConsumer {
	return &KeyChangeConsumer{db: db, queues: queues, regs: regs, members: members, rooms: rooms,
		log: logrus.WithField("component", "appservice.devicelists")}
}

// SetRooms sets the roomserver (arrow 23); call it before Run.
func (c *KeyChangeConsumer) SetRooms(rooms RoomsForUser) { c.rooms = rooms }

// Run consumes topic (the full name of topic 7) until ctx is done.
func (c *KeyChangeConsumer) Run(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return consumer.ConsumeBatch(ctx, topic, ConsumerGroup, consumeBatch, c.Handle)
}

// msc3202 is the services that want device lists.
func (c *KeyChangeConsumer) msc3202() []*api.Registration {
	var out []*api.Registration
	for _, r := range c.regs.All() {
		if r.HasURL() && r.MSC3202 {
			out = append(out, r)
		}
	}
	return out
}

// Handle queues a run of topic 7 records (of one user). The row key is "keys:" + the
// record's stream position, so a run delivered again queues nothing twice. A roomserver
// error is returned (the run is delivered again).
func (c *KeyChangeConsumer) Handle(ctx context.Context, msgs []eventlog.Message) error {
	regs := c.msc3202()
	if len(regs) == 0 {
		return nil
	}
	var rows []storage.QueuedEvent
	var services []string
	for _, m := range msgs {
		var out keyapi.OutputKeyChange
		if err := json.Unmarshal(m.Value, &out); err != nil || out.UserID == "" {
			c.log.WithField("offset", m.Offset).Error("skipping malformed topic 7 record")
			continue
		}
		var joined []string
		if c.rooms != nil {
			var err error
			if joined, err = c.rooms.QueryRoomsForUser(ctx, out.UserID, []string{"join"}); err != nil {
				return fmt.Errorf("appservice: rooms of %s: %w", out.UserID, err)
			}
		}
		js, _ := json.Marshal(out.UserID)
		key := fmt.Sprintf("keys:%d", out.StreamPos)
		for _, reg := range regs {
			if len(out.Audience) > 0 && !slices.ContainsFunc(out.Audience, reg.OwnsUser) {
				continue
			}
			if !reg.OwnsUser(out.UserID) && !slices.ContainsFunc(joined, func(room string) bool {
				return reg.InterestedInRoom(room) || slices.ContainsFunc(c.members.Members(room), reg.OwnsUser)
			}) {
				continue
			}
			rows = append(rows, storage.QueuedEvent{ASID: reg.ID, EventID: key, JSON: js, Kind: storage.KindDeviceList})
			if !slices.Contains(services, reg.ID) {
				services = append(services, reg.ID)
			}
		}
	}
	if err := c.db.Apply(ctx, rows, nil); err != nil {
		return err
	}
	for _, id := range services {
		c.queues.Notify(id)
	}
	return nil
}
