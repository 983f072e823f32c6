package internal

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// ConsumerGroup is the appservice component's consumer group on topic 2 (roomserver →
// syncapi; the appservice is a second consumer of it, with its own group).
const ConsumerGroup = "appservice"

// consumeBatch is the most topic 2 records of one room queued in one database transaction.
const consumeBatch = 100

// Consumer turns topic 2 records into queue rows, one per event and interested service.
// A service is interested in an event when the sender, or the state_key of a membership
// event, is its sender or in its user namespaces, when the room ID is in its room
// namespaces, when one of the room's aliases is in its alias namespaces (the aliases of
// the room's m.room.canonical_alias: alias and alt_aliases, kept in
// appservice_room_aliases), or when one of its users is joined to the room (the spec's
// rule).
//
// Rows and membership changes of a run of records are stored in one database transaction,
// and the log commits the run's offsets only after it (eventlog.BatchHandler), so a crash
// in between queues the run again, which the queue's uniqueness makes harmless.
type Consumer struct {
	db     *storage.Database
	queues *Queues
	regs   *api.Registrations
	log    *logrus.Entry
	// rooms is the roomserver, for device_lists.left (devicelistsleft.go; nil: none).
	rooms RoomServer

	mu sync.Mutex
	// members: room ID → joined users that some service owns (loaded at start, updated
	// after each commit). Records of one room are handled one run at a time.
	members map[string][]string
	// aliases: room ID → its canonical aliases (loaded at start, updated after each commit).
	aliases map[string][]string
}

// NewConsumer returns the topic 2 consumer feeding queues.
func NewConsumer(db *storage.Database, queues *Queues, regs *api.Registrations) *Consumer {
	return &Consumer{db: db, queues: queues, regs: regs, log: logrus.WithField("component", "appservice.consumer")}
}

// Load reads the stored room members; Run calls it.
func (c *Consumer) Load(ctx context.Context) error {
	m, err := c.db.RoomMembers(ctx)
	if err != nil {
		return err
	}
	a, err := c.db.RoomAliases(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.members, c.aliases = m, a
	c.mu.Unlock()
	return nil
}

// Members returns the room's joined users that some service owns (the topic 3 consumer
// asks which services are in a room).
func (c *Consumer) Members(room string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.members[room])
}

// Run loads the stored members and consumes topic (the full, prefixed name of topic 2)
// until ctx is done.
func (c *Consumer) Run(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	if err := c.Load(ctx); err != nil {
		return err
	}
	return consumer.ConsumeBatch(ctx, topic, ConsumerGroup, consumeBatch, c.Handle)
}

// ownedByAny says whether some service owns userID (it is then tracked as a member).
func (c *Consumer) ownedByAny(userID string) bool {
	for _, r := range c.regs.All() {
		if r.OwnsUser(userID) {
			return true
		}
	}
	return false
}

// Handle queues a run of topic 2 records (of one room). A record that cannot be decoded
// is logged and skipped (retrying it can never succeed); a database error is returned, so
// the log delivers the run again.
func (c *Consumer) Handle(ctx context.Context, msgs []eventlog.Message) error {
	if len(c.regs.All()) == 0 {
		return nil
	}
	var rows []storage.QueuedEvent
	var changes []storage.MemberChange
	var services []string
	var leaves []leaveCheck
	// pending: this run's member changes, applied to a copy of each room's list;
	// newAliases: this run's alias changes (room → its aliases now).
	pending := map[string][]string{}
	newAliases := map[string][]string{}
	roomAliases := func(room string) []string {
		if a, ok := newAliases[room]; ok {
			return a
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.aliases[room]
	}
	roomMembers := func(room string) []string {
		if m, ok := pending[room]; ok {
			return m
		}
		c.mu.Lock()
		m := slices.Clone(c.members[room])
		c.mu.Unlock()
		pending[room] = m
		return m
	}
	for _, m := range msgs {
		var out rsapi.OutputEvent
		if err := json.Unmarshal(m.Value, &out); err != nil {
			c.log.WithError(err).WithField("offset", m.Offset).Error("skipping malformed topic 2 record")
			continue
		}
		if out.Type != rsapi.OutputNewRoomEvent || out.NewRoomEvent == nil {
			continue // redactions arrive as their own m.room.redaction event; forgets are per user
		}
		d := out.NewRoomEvent
		ev, err := event.NewEventFromTrustedJSONWithEventID(d.EventID, d.Event, matrix.RoomVersionID(d.RoomVersion))
		if err != nil {
			c.log.WithError(err).WithField("event_id", d.EventID).Error("skipping an undecodable event")
			continue
		}
		room, sender := ev.RoomID(), ev.Sender()
		var target string
		if ev.Type() == "m.room.member" && ev.StateKey() != nil {
			target = *ev.StateKey()
		}
		if ev.Type() == "m.room.canonical_alias" && ev.StateKey() != nil && *ev.StateKey() == "" {
			newAliases[room] = canonicalAliases(ev) // this event already counts under them
		}
		members := roomMembers(room)
		aliases := roomAliases(room)
		var js []byte
		for _, reg := range c.regs.All() {
			if !reg.HasURL() {
				continue
			}
			interested := reg.OwnsUser(sender) || (target != "" && reg.OwnsUser(target)) || reg.InterestedInRoom(room) ||
				slices.ContainsFunc(members, reg.OwnsUser) || slices.ContainsFunc(aliases, reg.InterestedInAlias)
			if !interested {
				continue
			}
			if js == nil {
				js, err = json.Marshal(event.ToClientEvent(ev, event.ClientFormatClient))
				if err != nil {
					return err
				}
			}
			rows = append(rows, storage.QueuedEvent{ASID: reg.ID, EventID: ev.EventID(), JSON: js})
			if !slices.Contains(services, reg.ID) {
				services = append(services, reg.ID)
			}
		}
		if target == "" {
			continue
		}
		m := membership(ev)
		after := members
		if c.ownedByAny(target) {
			joined := m == "join"
			was := slices.Contains(members, target)
			if joined != was {
				changes = append(changes, storage.MemberChange{RoomID: room, UserID: target, Joined: joined})
				if joined {
					after = append(slices.Clone(members), target)
				} else {
					after = slices.DeleteFunc(slices.Clone(members), func(u string) bool { return u == target })
				}
				pending[room] = after
			}
		}
		leaves = append(leaves, c.leaveChecks(ctx, ev.EventID(), room, target, m, members, after)...)
	}
	if len(leaves) > 0 {
		// Read-only: other rooms' lists stay out of pending (their runs may be in flight).
		left := c.leftRows(ctx, leaves, func(room string) []string {
			if m, ok := pending[room]; ok {
				return m
			}
			return c.Members(room)
		})
		rows = append(rows, left...)
		for _, r := range left {
			if !slices.Contains(services, r.ASID) {
				services = append(services, r.ASID)
			}
		}
	}
	if err := c.db.ApplyWithAliases(ctx, rows, changes, newAliases); err != nil {
		return err
	}
	if len(newAliases) > 0 {
		c.mu.Lock()
		if c.aliases == nil {
			c.aliases = map[string][]string{}
		}
		for room, a := range newAliases {
			if len(a) == 0 {
				delete(c.aliases, room)
			} else {
				c.aliases[room] = a
			}
		}
		c.mu.Unlock()
	}
	if len(changes) > 0 {
		c.mu.Lock()
		if c.members == nil {
			c.members = map[string][]string{}
		}
		for room, m := range pending {
			if len(m) == 0 {
				delete(c.members, room)
			} else {
				c.members[room] = m
			}
		}
		c.mu.Unlock()
	}
	eventsQueued.Add(float64(len(rows)))
	for _, id := range services {
		c.queues.Notify(id)
	}
	return nil
}

// membership is a member event's content.membership.
func membership(ev *event.Event) string {
	var c struct {
		Membership string `json:"membership"`
	}
	_ = json.Unmarshal(ev.Content(), &c)
	return c.Membership
}

// canonicalAliases is an m.room.canonical_alias event's alias and alt_aliases.
func canonicalAliases(ev *event.Event) []string {
	var c struct {
		Alias      any   `json:"alias"`
		AltAliases []any `json:"alt_aliases"`
	}
	_ = json.Unmarshal(ev.Content(), &c)
	var out []string
	for _, a := range append([]any{c.Alias}, c.AltAliases...) {
		if s, ok := a.(string); ok && s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
