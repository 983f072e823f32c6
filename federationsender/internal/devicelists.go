package internal

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/federationsender/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/matrix"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// Topic 7 (keyserver → federationsender; the syncapi reads it too): every change of a
// local user's device list becomes an m.device_list_update EDU for every other server
// with a user joined to a room the user is joined to (asked of the roomserver, arrow 21:
// QueryRoomsForUser, then each room's m.room.member state). stream_id is the change's
// topic 7 position and prev_id the user's previous one, as the server-server spec's
// "Device management" says. The EDUs wait in the topic 5 queue (storage/edus.go) under
// the negated position as their ID, so they never collide with the eduserver's
// (positive) IDs and a redelivered record queues nothing twice. A change of a local
// user's cross-signing keys themselves (the record carries the master and self-signing
// keys) becomes an m.signing_key_update EDU to the same servers, queued the same way; a
// signature of a local user's device is an m.device_list_update of that device without
// keys (receivers with a cache fetch /user/devices again); other signature changes and
// changes shown to one user only (Audience) are not sent.

// DeviceListConsumerGroup is the federationsender's consumer group on topic 7.
const DeviceListConsumerGroup = "federationsender-devicelists"

// EDUTypeDeviceListUpdate is the EDU type of a device-list change.
const EDUTypeDeviceListUpdate = "m.device_list_update"

// EDUTypeSigningKeyUpdate is the EDU type of a change of a user's cross-signing keys.
const EDUTypeSigningKeyUpdate = "m.signing_key_update"

// signingKeyUpdate is the content of an m.signing_key_update EDU.
type signingKeyUpdate struct {
	UserID         string          `json:"user_id"`
	MasterKey      json.RawMessage `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage `json:"self_signing_key,omitempty"`
}

// deviceListBatch is the most topic 7 records handled in one run.
const deviceListBatch = 50

// DeviceListRooms is the part of the roomserver's API the consumer asks (arrow 21).
type DeviceListRooms interface {
	QueryRoomsForUser(ctx context.Context, userID string, memberships []string) ([]string, error)
	QueryCurrentState(ctx context.Context, roomID string, tuples []rsapi.StateTuple) ([]json.RawMessage, error)
}

// DeviceListConsumer turns topic 7 records into queued m.device_list_update EDUs.
type DeviceListConsumer struct {
	db     *storage.Database
	queues *Queues
	origin string
	rooms  DeviceListRooms
	// Now is the clock (the rows' queued_ts); tests replace it.
	Now func() time.Time
	log *logrus.Entry
}

// NewDeviceListConsumer returns the topic 7 consumer of origin feeding queues, asking
// rooms for the servers to tell.
func NewDeviceListConsumer(db *storage.Database, queues *Queues, origin string, rooms DeviceListRooms) *DeviceListConsumer {
	return &DeviceListConsumer{db: db, queues: queues, origin: origin, rooms: rooms, Now: time.Now,
		log: logrus.WithField("component", "federationsender.devicelists")}
}

// Run consumes topic (the full name of topic 7) until ctx is done.
func (c *DeviceListConsumer) Run(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return consumer.ConsumeBatch(ctx, topic, DeviceListConsumerGroup, deviceListBatch, c.Handle)
}

// deviceListUpdate is the content of an m.device_list_update EDU.
type deviceListUpdate struct {
	UserID   string          `json:"user_id"`
	DeviceID string          `json:"device_id"`
	StreamID int64           `json:"stream_id"`
	PrevID   []int64         `json:"prev_id"`
	Deleted  bool            `json:"deleted,omitempty"`
	Keys     json.RawMessage `json:"keys,omitempty"`
}

// Handle queues a run of topic 7 records; an undecodable record is logged and skipped, a
// roomserver or database error is returned (the log delivers the run again).
func (c *DeviceListConsumer) Handle(ctx context.Context, msgs []eventlog.Message) error {
	var rows []storage.QueuedEDU
	var dests []string
	now := c.Now().UnixMilli()
	servers := map[string][]string{} // user → servers, once per run
	for _, m := range msgs {
		var out keyapi.OutputKeyChange
		if err := json.Unmarshal(m.Value, &out); err != nil || out.StreamPos <= 0 || out.UserID == "" {
			c.log.WithError(err).WithField("offset", m.Offset).Error("skipping malformed topic 7 record")
			continue
		}
		// A cross-signing record naming a device is a signature of that device: an
		// m.device_list_update without keys (the receiver fetches the list again).
		signingKeys := out.CrossSigning && (len(out.MasterKey) > 0 || len(out.SelfSigningKey) > 0)
		if (!signingKeys && out.DeviceID == "") || len(out.Audience) > 0 {
			continue
		}
		if server, ok := matrix.ServerNameOf(out.UserID); !ok || server != c.origin {
			continue
		}
		to, ok := servers[out.UserID]
		if !ok {
			var err error
			if to, err = c.sharingServers(ctx, out.UserID); err != nil {
				return err
			}
			servers[out.UserID] = to
		}
		if len(to) == 0 {
			continue
		}
		eduType := EDUTypeDeviceListUpdate
		var content []byte
		var err error
		if signingKeys {
			eduType = EDUTypeSigningKeyUpdate
			content, err = json.Marshal(&signingKeyUpdate{UserID: out.UserID, MasterKey: out.MasterKey, SelfSigningKey: out.SelfSigningKey})
		} else {
			edu := deviceListUpdate{UserID: out.UserID, DeviceID: out.DeviceID, StreamID: out.StreamPos, PrevID: []int64{},
				Deleted: out.Deleted, Keys: out.DeviceKeys}
			if out.PrevStreamPos > 0 {
				edu.PrevID = []int64{out.PrevStreamPos}
			}
			if out.Deleted {
				edu.Keys = nil
			}
			content, err = json.Marshal(&edu)
		}
		if err != nil {
			return err
		}
		for _, d := range to {
			rows = append(rows, storage.QueuedEDU{Destination: d, EDUID: -out.StreamPos, Type: eduType,
				JSON: content, QueuedTS: now})
			if !slices.Contains(dests, d) {
				dests = append(dests, d)
			}
		}
	}
	if err := c.db.QueueEDUs(ctx, rows); err != nil {
		return err
	}
	for _, d := range dests {
		c.queues.Notify(d)
	}
	return nil
}

// sharingServers returns the other servers with a user joined to a room userID is joined
// to (arrow 21).
func (c *DeviceListConsumer) sharingServers(ctx context.Context, userID string) ([]string, error) {
	rooms, err := c.rooms.QueryRoomsForUser(ctx, userID, []string{"join"})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, roomID := range rooms {
		state, err := c.rooms.QueryCurrentState(ctx, roomID, nil)
		if err != nil {
			return nil, err
		}
		for _, raw := range state {
			var ev struct {
				Type     string  `json:"type"`
				StateKey *string `json:"state_key"`
				Content  struct {
					Membership string `json:"membership"`
				} `json:"content"`
			}
			if json.Unmarshal(raw, &ev) != nil || ev.Type != "m.room.member" || ev.StateKey == nil || ev.Content.Membership != "join" {
				continue
			}
			server, ok := matrix.ServerNameOf(*ev.StateKey)
			if !ok || server == c.origin || seen[server] || matrix.ValidateServerName(server) != nil {
				continue
			}
			seen[server] = true
			out = append(out, server)
		}
	}
	slices.Sort(out)
	return out, nil
}
