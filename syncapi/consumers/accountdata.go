package consumers

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/syncapi/internal"
	"github.com/axon-matrix/axon/syncapi/storage"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// AccountDataConsumer handles topic 1 (account data → syncapi).
type AccountDataConsumer struct {
	db       *storage.Database
	notifier *internal.Notifier
	log      *logrus.Entry
}

// NewAccountDataConsumer builds the topic 1 handler.
func NewAccountDataConsumer(db *storage.Database, n *internal.Notifier) *AccountDataConsumer {
	return &AccountDataConsumer{db: db, notifier: n, log: logrus.WithField("component", "syncapi.consumers.account_data")}
}

// Handle is the eventlog.Handler for topic 1; idempotent like RoomEventConsumer.Handle.
func (c *AccountDataConsumer) Handle(ctx context.Context, msg eventlog.Message) error {
	var out userapi.OutputAccountData
	if err := json.Unmarshal(msg.Value, &out); err != nil || out.StreamPos <= 0 {
		c.log.WithField("offset", msg.Offset).Error("unusable topic 1 record; dropped")
		return nil
	}
	var adv storage.Advance
	var err error
	if out.UserID == "" || out.Type == "" || !json.Valid(out.Content) {
		c.log.WithField("pos", out.StreamPos).Error("topic 1 record without user, type or JSON content; position skipped")
		adv, err = c.db.SkipPosition(ctx, storage.StreamAccountData, out.StreamPos)
	} else {
		adv, err = c.db.StoreAccountData(ctx, out.StreamPos, out.UserID, out.RoomID, out.Type, out.Content)
	}
	if err != nil {
		return err
	}
	if !adv.Duplicate && out.RoomID == "" && out.Type == internal.IgnoredUserListType && out.UserID != "" && json.Valid(out.Content) {
		// Before the Notifier learns the position: a /sync it wakes applies the new list.
		c.notifier.SetIgnoreList(out.UserID, out.StreamPos, out.Content)
	}
	if !adv.Advanced() {
		return nil
	}
	users := []string{out.UserID}
	if adv.To-adv.From > 1 {
		// A gap closed: wake the owners of every position that became visible.
		if users, err = c.db.AccountDataUsersBetween(ctx, adv.From, adv.To); err != nil {
			c.log.WithError(err).Error("reading newly visible account data")
		}
	}
	c.notifier.OnAccountData(adv.To, users)
	return nil
}
