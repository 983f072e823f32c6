package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/internal/metrics"
)

// producer publishes through the log's idempotent SyncProducer.
type producer struct{ log *Log }

// Publish sends msgs and returns once the broker acknowledged all of them (acks=all), or
// with the first error after the producer's retries. On error some messages may have been
// stored: callers (the outbox) publish again, and consumers are idempotent.
func (p *producer) Publish(ctx context.Context, msgs ...eventlog.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	batch := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		if m.Topic == "" {
			return errors.New("kafka eventlog: message without topic")
		}
		pm := &sarama.ProducerMessage{Topic: m.Topic, Key: sarama.StringEncoder(m.Key), Value: sarama.ByteEncoder(m.Value)}
		for k, v := range m.Headers {
			pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
		}
		batch[i] = pm
	}
	p.log.mu.RLock()
	defer p.log.mu.RUnlock()
	if p.log.closed {
		return ErrClosed
	}
	if err := p.log.producer.SendMessages(batch); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			return fmt.Errorf("kafka eventlog: %d of %d messages failed, first: %w", len(perrs), len(batch), perrs[0].Err)
		}
		return fmt.Errorf("kafka eventlog: publishing: %w", err)
	}
	for _, m := range msgs {
		metrics.Published.WithLabelValues("kafka", m.Topic).Inc()
	}
	return nil
}

// Close does nothing: the log owns the SyncProducer and closes it in Log.Close.
func (p *producer) Close() error { return nil }
