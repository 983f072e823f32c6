// Package consumers holds the clientapi's log consumers. MembershipConsumer consumes topic
// 4 (roomserver → clientapi: a local user's membership changed) into the clientapi's table
// of joined rooms, which the profile endpoints read to know where to send updated
// m.room.member events when a user changes their display name or avatar.
package consumers

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/clientapi/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// ConsumerGroup is the clientapi's consumer group on topic 4.
const ConsumerGroup = "clientapi"

// MembershipConsumer keeps the joined-rooms table in step with topic 4.
type MembershipConsumer struct {
	db         *storage.Database
	serverName string
	log        *logrus.Entry
}

// NewMembershipConsumer returns a topic 4 consumer for the local users of serverName.
func NewMembershipConsumer(db *storage.Database, serverName string) *MembershipConsumer {
	return &MembershipConsumer{db: db, serverName: serverName, log: logrus.WithField("component", "clientapi.consumers")}
}

// Run consumes topic (the full, prefixed name of topic 4) until ctx is done.
func (c *MembershipConsumer) Run(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return consumer.Consume(ctx, topic, ConsumerGroup, c.Handle)
}

// Handle applies one topic 4 message. It is idempotent: a replayed message leaves the
// table as it was. A message that cannot be decoded is logged and skipped, since retrying
// it can never succeed; a database error is returned so the log delivers it again.
func (c *MembershipConsumer) Handle(ctx context.Context, msg eventlog.Message) error {
	var out rsapi.OutputMembership
	if err := json.Unmarshal(msg.Value, &out); err != nil || out.RoomID == "" || out.UserID == "" {
		c.log.WithError(err).WithField("offset", msg.Offset).Error("skipping malformed topic 4 message")
		return nil
	}
	if !strings.HasSuffix(out.UserID, ":"+c.serverName) {
		return nil // only local users change their profile here
	}
	return c.db.SetMembership(ctx, out.UserID, out.RoomID, out.Membership)
}
