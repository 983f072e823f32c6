// Package consumers holds the syncapi's log consumers: topic 2 (roomserver → syncapi, room
// events, redactions and forgotten rooms) and topic 1 (account data → syncapi). Each stores what it
// receives at the producer-assigned stream position, advances that stream's watermark in
// the same transaction, and then tells the Notifier what became visible.
package consumers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/eventlog"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/syncapi/internal"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// RoomEventConsumer handles topic 2 (roomserver → syncapi).
type RoomEventConsumer struct {
	db       *storage.Database
	notifier roomNotifier
	// rsAPI is arrow 2 (syncapi → roomserver): fetching added state events the syncapi lacks.
	rsAPI rsapi.RoomserverAPI
	log   *logrus.Entry
	// group stores concurrent calls' runs of storable records in shared transactions.
	group groupCommit
}

// roomNotifier is what the topic 2 consumer tells of what became visible (an
// *internal.Notifier; the tests record the calls).
type roomNotifier interface {
	OnRoomEvents(pos int64, events []storage.Event)
	OnRoomAdvance(from, to int64, events []storage.Event, deltas []storage.RoomStateDelta)
	OnRedaction()
}

// NewRoomEventConsumer builds the topic 2 handler.
func NewRoomEventConsumer(db *storage.Database, n *internal.Notifier, rsAPI rsapi.RoomserverAPI) *RoomEventConsumer {
	return &RoomEventConsumer{db: db, notifier: n, rsAPI: rsAPI, log: logrus.WithField("component", "syncapi.consumers.room_event")}
}

// Handle is the eventlog.Handler for topic 2. It is idempotent: a record whose position was
// stored before changes nothing. A record that can never be stored (malformed) is logged
// and its position skipped, so the watermark does not stop there forever; a temporary
// failure (database, roomserver) returns an error so the log delivers the record again.
func (c *RoomEventConsumer) Handle(ctx context.Context, msg eventlog.Message) error {
	var out rsapi.OutputEvent
	if err := json.Unmarshal(msg.Value, &out); err != nil {
		c.log.WithError(err).WithField("offset", msg.Offset).Error("undecodable topic 2 record")
		var pos struct {
			StreamPos int64 `json:"stream_pos"`
		}
		if json.Unmarshal(msg.Value, &pos) != nil || pos.StreamPos <= 0 {
			return nil // no position to skip: nothing can be done with it
		}
		adv, err := c.db.SkipPosition(ctx, storage.StreamRoom, pos.StreamPos)
		if err != nil {
			return err
		}
		return c.notify(ctx, adv)
	}
	if out.StreamPos <= 0 && out.Type != rsapi.OutputRedaction {
		c.log.WithField("type", out.Type).Error("topic 2 record without a stream position; dropped")
		return nil
	}
	var adv storage.Advance
	var stored *storage.NewRoomEvent
	var err error
	switch out.Type {
	case rsapi.OutputNewRoomEvent:
		adv, stored, err = c.storeNewEvent(ctx, out.StreamPos, out.NewRoomEvent, msg.Key)
	case rsapi.OutputRedaction:
		adv, err = c.storeRedaction(ctx, out.StreamPos, out.Redaction)
		if err == nil {
			c.notifier.OnRedaction()
		}
	case rsapi.OutputForget:
		if adv, err = c.storeForget(ctx, out.StreamPos, out.Forget); err == nil && adv.From+1 == adv.To && adv.To == out.StreamPos {
			// Only the forget's own position became visible: no event, no state change.
			c.notifier.OnRoomAdvance(adv.From, adv.To, nil, nil)
			return nil
		}
	default:
		c.log.WithField("type", out.Type).Warn("unknown topic 2 record type; position skipped")
		adv, err = c.db.SkipPosition(ctx, storage.StreamRoom, out.StreamPos)
	}
	if err != nil {
		return err
	}
	if stored != nil && adv.From+1 == adv.To && adv.To == out.StreamPos {
		// Only this record's event became visible (records in order, the common case):
		// the notifier needs no read of what was just written, and learns exactly what
		// moved (the event and its state changes).
		ev := stored.Event
		ev.StreamPos = adv.To
		deltas := make([]storage.RoomStateDelta, len(stored.Applied))
		for i, d := range stored.Applied {
			deltas[i] = storage.RoomStateDelta{RoomID: ev.RoomID, StateDelta: d}
		}
		c.notifier.OnRoomAdvance(adv.From, adv.To, []storage.Event{ev}, deltas)
		return nil
	}
	return c.notify(ctx, adv)
}

// notify tells the notifier about a watermark advance over several positions (records
// that arrived out of order, skipped positions, redactions), reading back what became
// visible: the timeline events and the state changes.
func (c *RoomEventConsumer) notify(ctx context.Context, adv storage.Advance) error {
	if !adv.Advanced() {
		return nil
	}
	evs, err := c.db.EventsBetween(ctx, adv.From, adv.To)
	if err != nil {
		// Stored and committed: the notifier still must learn the position.
		c.log.WithError(err).Error("reading newly visible events")
		c.notifier.OnRoomEvents(adv.To, evs)
		return nil
	}
	deltas, err := c.db.AllStateChangesBetween(ctx, adv.From, adv.To)
	if err != nil {
		c.log.WithError(err).Error("reading newly visible state changes")
		c.notifier.OnRoomEvents(adv.To, evs)
		return nil
	}
	c.notifier.OnRoomAdvance(adv.From, adv.To, evs, deltas)
	return nil
}

// stateFetchChunk is how many added state events one QueryEventsByID asks for (at most
// rsapi.MaxQueryEvents).
const stateFetchChunk = 500

// storeNewEvent stores a new-event record; it returns the stored record too (nil when the
// position was skipped), with the state changes it applied.
func (c *RoomEventConsumer) storeNewEvent(ctx context.Context, pos int64, d *rsapi.OutputNewRoomEventData, key string) (storage.Advance, *storage.NewRoomEvent, error) {
	rec := newRecord(d, key)
	if rec == nil {
		c.log.WithField("pos", pos).Error("topic 2 new event record without a usable event; position skipped")
		adv, err := c.db.SkipPosition(ctx, storage.StreamRoom, pos)
		return adv, nil, err
	}
	ev := &rec.Event
	// Added state events other than the event itself that the syncapi has not stored are
	// fetched from the roomserver (arrow 2).
	var others []string
	for _, id := range d.AddsStateEventIDs {
		if id != ev.EventID {
			others = append(others, id)
		}
	}
	missing, err := c.db.MissingEvents(ctx, others)
	if err != nil {
		return storage.Advance{}, nil, err
	}
	skip := map[string]bool{}
	// In chunks (a remote join adds the whole room's state: 25,000 events are 50 queries,
	// not 25,000).
	for from := 0; from < len(missing); from += stateFetchChunk {
		chunk := missing[from:min(from+stateFetchChunk, len(missing))]
		got, err := c.rsAPI.QueryEventsByID(ctx, chunk)
		if err != nil {
			return storage.Advance{}, nil, fmt.Errorf("fetching %d state events: %w", len(chunk), err)
		}
		for _, id := range chunk {
			res, ok := got[id]
			if !ok {
				c.log.WithField("event_id", id).Error("added state event unknown to the roomserver; left out of the state")
				skip[id] = true
				continue
			}
			se := internal.ParseEvent(res.Event, id)
			if se == nil || se.StateKey == nil {
				c.log.WithField("event_id", id).Error("added state event is not a state event; left out of the state")
				skip[id] = true
				continue
			}
			if se.RoomID == "" {
				se.RoomID = ev.RoomID
			}
			rec.StateEvents = append(rec.StateEvents, *se)
		}
	}
	for _, id := range d.AddsStateEventIDs {
		if !skip[id] {
			rec.AddsStateEventIDs = append(rec.AddsStateEventIDs, id)
		}
	}
	adv, err := c.db.StoreRoomEvent(ctx, pos, rec)
	if adv.Duplicate {
		return adv, nil, err
	}
	return adv, rec, err
}

// newRecord is the record to store for a new-event payload (its AddsStateEventIDs left for
// the caller to set), or nil when the payload has no usable event.
func newRecord(d *rsapi.OutputNewRoomEventData, key string) *storage.NewRoomEvent {
	if d == nil {
		return nil
	}
	ev := internal.ParseEvent(d.Event, d.EventID)
	if ev == nil {
		return nil
	}
	if ev.RoomID == "" {
		// A v12 create event carries no room_id (its ID derives the room's); the record's
		// log key is the room ID.
		ev.RoomID = key
	}
	if ev.RoomID == "" {
		return nil
	}
	ev.TxnDeviceID, ev.TxnID, ev.HistoryVisibility = d.TxnDeviceID, d.TxnID, d.HistoryVisibility
	return &storage.NewRoomEvent{Event: *ev, RemovesStateEventIDs: d.RemovesStateEventIDs}
}

func (c *RoomEventConsumer) storeRedaction(ctx context.Context, pos int64, d *rsapi.OutputRedactionData) (storage.Advance, error) {
	if d == nil || d.RedactedEventID == "" {
		if pos > 0 {
			return c.db.SkipPosition(ctx, storage.StreamRoom, pos)
		}
		return storage.Advance{}, nil
	}
	// unsigned.redacted_because is the redaction event; keep it with its ID, which a v3+
	// federation event does not carry.
	var because []byte
	red, err := c.db.EventByID(ctx, d.RedactionEventID)
	if err != nil {
		return storage.Advance{}, err
	}
	if red != nil {
		because = withEventID(red.JSON, red.EventID)
	} else if res, err := c.rsAPI.QueryEvent(ctx, d.RedactionEventID); err == nil {
		because = withEventID(res.Event, d.RedactionEventID)
	} else {
		c.log.WithError(err).WithField("event_id", d.RedactionEventID).Warn("redaction event unavailable; redacted_because left out")
	}
	return c.db.StoreRedaction(ctx, pos, d.RedactedEventID, d.RedactedEvent, because)
}

// storeForget stores a forget record (the user forgot a room, POST /forget); one without
// a room or user is logged and its position skipped.
func (c *RoomEventConsumer) storeForget(ctx context.Context, pos int64, d *rsapi.OutputForgetData) (storage.Advance, error) {
	if d == nil || d.RoomID == "" || d.UserID == "" {
		c.log.WithField("pos", pos).Error("topic 2 forget record without a room or user; position skipped")
		return c.db.SkipPosition(ctx, storage.StreamRoom, pos)
	}
	return c.db.StoreForget(ctx, pos, d.RoomID, d.UserID)
}

// withEventID returns the event JSON with its event_id set.
func withEventID(raw []byte, id string) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	m["event_id"], _ = json.Marshal(id)
	b, _ := json.Marshal(m)
	return b
}
