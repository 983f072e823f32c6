package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/internal/dispatch"
	"github.com/axon-matrix/axon/internal/eventlog/internal/metrics"
)

// maxRejoinDelay caps the wait before Consume joins its group again after a failed session
// (a broker outage fails one session after another): the handler backoff (up to 10 s) would
// otherwise delay consumption that long after the broker is back. A join against a dead
// broker fails fast, so trying once a second costs little.
const maxRejoinDelay = time.Second

// consumer runs consumer-group members.
type consumer struct{ log *Log }

// Close does nothing: each Consume call closes its group member when its context ends.
func (c *consumer) Close() error { return nil }

// Consume delivers topic's messages to h one at a time (ConsumeBatch with maxBatch 1).
func (c *consumer) Consume(ctx context.Context, topic, group string, h eventlog.Handler) error {
	if h == nil {
		return errors.New("kafka eventlog: nil handler")
	}
	return c.ConsumeBatch(ctx, topic, group, 1, eventlog.Batch(h))
}

// ConsumeBatch joins group and delivers topic's messages to h until ctx is done, each
// key's waiting messages in runs of up to maxBatch. After a rebalance or a broker error it
// joins again.
func (c *consumer) ConsumeBatch(ctx context.Context, topic, group string, maxBatch int, h eventlog.BatchHandler) error {
	if group == "" {
		return errors.New("kafka eventlog: empty consumer group")
	}
	if h == nil {
		return errors.New("kafka eventlog: nil handler")
	}
	l := c.log
	client, err := sarama.NewClient(l.cfg.Brokers, l.sarama)
	if err != nil {
		return fmt.Errorf("kafka eventlog: consumer client: %w", err)
	}
	defer client.Close()
	if parts, err := client.Partitions(topic); err != nil || len(parts) == 0 {
		return fmt.Errorf("kafka eventlog: topic %q: %w", topic, errors.Join(sarama.ErrUnknownTopicOrPartition, err))
	}
	cg, err := sarama.NewConsumerGroupFromClient(group, client)
	if err != nil {
		return fmt.Errorf("kafka eventlog: joining group %s: %w", group, err)
	}
	defer cg.Close()

	log := l.log.WithField("topic", topic).WithField("group", group)
	go func() {
		for err := range cg.Errors() {
			log.WithError(err).Warn("consumer group error")
		}
	}()
	gh := &groupHandler{ctx: ctx, log: l, topic: topic, group: group, h: h, maxBatch: maxBatch, logger: log}
	for attempt := 1; ; attempt++ {
		err := cg.Consume(ctx, []string{topic}, gh)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, sarama.ErrClosedConsumerGroup) {
			return nil
		}
		if err == nil {
			attempt = 0 // a rebalance ended the session: join again at once
			continue
		}
		log.WithError(err).Warn("consumer group session failed; joining again")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(min(l.cfg.Backoff.Delay(attempt), maxRejoinDelay)):
		}
	}
}

// groupHandler is the sarama.ConsumerGroupHandler of one Consume call.
type groupHandler struct {
	ctx          context.Context // the Consume call's: handlers keep it across rebalances
	log          *Log
	topic, group string
	h            eventlog.BatchHandler
	maxBatch     int
	logger       *logrus.Entry
}

// Setup is called when a session starts, before the claims are consumed.
func (g *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	g.logger.WithField("claims", sess.Claims()).Debug("consumer group session started")
	return nil
}

// Cleanup is called when a session ends, after every ConsumeClaim returned.
func (g *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim feeds one partition's messages to a per-key dispatcher. The dispatcher marks
// an offset only when every message before it is handled; sarama commits marked offsets
// every CommitInterval and when the session ends. When the session ends (rebalance or
// shutdown) the claim stops taking messages, lets running handler calls finish, and drops
// the queued ones: they were not marked, so the partition's next owner gets them.
func (g *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	cfg := g.log.cfg
	d := dispatch.New(g.ctx, dispatch.Config{
		BatchHandler: g.h,
		MaxBatch:     g.maxBatch,
		MaxActive:    cfg.MaxActiveKeys,
		MaxPending:   cfg.MaxPending,
		Backoff:      cfg.Backoff,
		Commit: func(partition int32, next int64) {
			sess.MarkOffset(g.topic, partition, next, "")
		},
		OnError: func(m eventlog.Message, attempt int, err error) {
			metrics.HandlerErrors.WithLabelValues("kafka", g.topic, g.group).Inc()
			g.logger.WithError(err).WithField("key", m.Key).WithField("partition", m.Partition).
				WithField("offset", m.Offset).WithField("attempt", attempt).Warn("handler failed; retrying")
		},
		OnSuccess: func(eventlog.Message) { metrics.Consumed.WithLabelValues("kafka", g.topic, g.group).Inc() },
	})
	defer d.Stop()
	for {
		select {
		case <-sess.Context().Done():
			return nil
		case km, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if err := d.Submit(sess.Context(), toMessage(km)); err != nil {
				return nil
			}
		}
	}
}

func toMessage(km *sarama.ConsumerMessage) eventlog.Message {
	m := eventlog.Message{
		Topic:     km.Topic,
		Key:       string(km.Key),
		Value:     km.Value,
		Offset:    km.Offset,
		Partition: km.Partition,
	}
	if len(km.Headers) > 0 {
		m.Headers = make(map[string]string, len(km.Headers))
		for _, h := range km.Headers {
			if h != nil {
				m.Headers[string(h.Key)] = string(h.Value)
			}
		}
	}
	return m
}
