package consumers

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/eventlog"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/syncapi/internal"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// KeyChangeConsumer handles topic 7 (keyserver → syncapi): changes of users' device
// lists and cross-signing keys, each at the keyserver's own position on the key change
// stream, for /sync's device_lists and GET /keys/changes.
type KeyChangeConsumer struct {
	db       *storage.Database
	notifier *internal.Notifier
	log      *logrus.Entry
}

// NewKeyChangeConsumer builds the topic 7 handler.
func NewKeyChangeConsumer(db *storage.Database, n *internal.Notifier) *KeyChangeConsumer {
	return &KeyChangeConsumer{db: db, notifier: n, log: logrus.WithField("component", "syncapi.consumers.keychange")}
}

// Handle is the eventlog.Handler for topic 7. Idempotent: a replayed position changes
// nothing. A record that cannot be used still takes its position, so the watermark never
// stops at it.
func (c *KeyChangeConsumer) Handle(ctx context.Context, msg eventlog.Message) error {
	var out keyapi.OutputKeyChange
	if err := json.Unmarshal(msg.Value, &out); err != nil || out.StreamPos <= 0 {
		c.log.WithField("offset", msg.Offset).Error("unusable topic 7 record; dropped")
		return nil
	}
	if out.UserID == "" {
		c.log.WithField("pos", out.StreamPos).Error("topic 7 record without a user; position skipped")
		adv, err := c.db.SkipPosition(ctx, storage.StreamKeyChange, out.StreamPos)
		if err != nil || adv.Duplicate {
			return err
		}
		c.notifier.KeyChangeStored(out.StreamPos, storage.KeyChange{Pos: out.StreamPos}, nil) // a change of nobody's
		if !adv.Advanced() {
			return nil
		}
		rooms, users := c.notifier.KeyChangeTargets(adv.From, adv.To)
		c.notifier.OnKeyChange(adv.To, rooms, users)
		return nil
	}
	kc := storage.KeyChange{Pos: out.StreamPos, UserID: out.UserID, Audience: out.Audience}
	adv, err := c.db.StoreKeyChange(ctx, &kc)
	if err != nil || adv.Duplicate {
		return err
	}
	// The rooms the user is in now: whose /syncs to wake, and (held in memory) who shares
	// a room with them, so that other users' /syncs need no query for this change.
	var rooms []string
	if len(out.Audience) == 0 {
		if rooms, err = internal.JoinedRoomsOf(ctx, c.db, c.notifier, out.UserID); err != nil {
			return err
		}
	}
	c.notifier.KeyChangeStored(out.StreamPos, kc, rooms)
	if !adv.Advanced() {
		return nil // held back above a gap: told when the gap closes
	}
	wakeRooms, users := c.notifier.KeyChangeTargets(adv.From, adv.To)
	c.notifier.OnKeyChange(adv.To, wakeRooms, users)
	return nil
}
