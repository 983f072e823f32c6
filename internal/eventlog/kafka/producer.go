package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/internal/metrics"
)

// producer publishes topics 1–6 (in practice the outbox relay's batches) through the
// log's idempotent SyncProducer.
type producer struct{ log *Log }

// Publish sends msgs and returns once the broker acknowledged all of them (acks=all), or
// with the first error after the producer's bounded retries (a few seconds while the broker
// is down). On error some messages may have been stored: callers (the outbox) publish
// again, and consumers are idempotent.
//
// After any failed send the sarama producer is discarded and the next Publish makes a new
// one: sarama's per-topic and per-partition circuit breakers (3 failures open them for a
// fixed 10 s, not configurable) would otherwise refuse every send for up to 10 s after the
// broker is back, and a breaker that half-opens in the middle of a batch lets later
// messages of a key through after earlier ones failed, which breaks the key's order.
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
	l := p.log
	sp, err := l.acquireProducer()
	if err != nil {
		return err
	}
	err = sp.SendMessages(batch)
	l.mu.RUnlock()
	if err != nil {
		l.discardProducer(sp)
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			l.checkKeyOrder(batch, perrs)
			return fmt.Errorf("kafka eventlog: %d of %d messages failed, first: %w", len(perrs), len(batch), perrs[0].Err)
		}
		return fmt.Errorf("kafka eventlog: publishing: %w", err)
	}
	for _, m := range msgs {
		metrics.Published.WithLabelValues("kafka", m.Topic).Inc()
	}
	return nil
}

// acquireProducer returns the current sarama producer, making a new one if the last send
// failed, with l.mu held for reading: the caller sends, then calls l.mu.RUnlock. Close
// waits for the lock, so it never closes a producer under a send (sarama panics on that).
func (l *Log) acquireProducer() (sarama.SyncProducer, error) {
	for range 2 {
		l.mu.RLock()
		if l.closed {
			l.mu.RUnlock()
			return nil, ErrClosed
		}
		if l.producer != nil {
			return l.producer, nil
		}
		l.mu.RUnlock()
		if err := l.renewProducer(); err != nil {
			return nil, err
		}
	}
	// Another publisher's failed send discarded the new producer at once.
	return nil, errors.New("kafka eventlog: producer unavailable (the broker is failing sends)")
}

// renewProducer makes a new sarama producer if there is none. It fails fast (one metadata
// round, Metadata.Retry) while no broker answers; the caller's retry (the outbox relay's
// backoff) tries again.
func (l *Log) renewProducer() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.producer != nil {
		return nil
	}
	sp, err := sarama.NewSyncProducer(l.cfg.Brokers, l.sarama)
	if err != nil {
		return fmt.Errorf("kafka eventlog: restarting producer: %w", err)
	}
	l.producer = sp
	l.log.Info("producer restarted after a failed publish")
	return nil
}

// discardProducer drops sp after a failed send so the next Publish starts with a new one
// (fresh connections, metadata, circuit breakers and producer ID).
func (l *Log) discardProducer(sp sarama.SyncProducer) {
	l.mu.Lock()
	if l.producer != sp {
		l.mu.Unlock()
		return
	}
	l.producer = nil
	l.mu.Unlock()
	// No send holds sp any more (they held l.mu for reading), and nobody can take it.
	if err := sp.Close(); err != nil {
		l.log.WithError(err).Debug("closing the failed producer")
	}
}

// checkKeyOrder logs an error when a failed batch stored a message of a key after an
// earlier message of the same key failed: the outbox's retry then stores the earlier one
// after the later one. Publish starting every batch after a failure on a fresh producer
// makes this rare (the broker must come back while a batch's retries run); it is logged,
// not hidden.
func (l *Log) checkKeyOrder(batch []*sarama.ProducerMessage, perrs sarama.ProducerErrors) {
	failed := make(map[*sarama.ProducerMessage]bool, len(perrs))
	for _, pe := range perrs {
		failed[pe.Msg] = true
	}
	keyFailed := map[string]bool{}
	for _, m := range batch {
		k := m.Topic + "\x00" + string(m.Key.(sarama.StringEncoder))
		if failed[m] {
			keyFailed[k] = true
		} else if keyFailed[k] {
			l.log.WithField("topic", m.Topic).WithField("key", string(m.Key.(sarama.StringEncoder))).
				Error("a message was stored after an earlier message of its key failed: the key's order is broken for consumers")
			return
		}
	}
}

// Close does nothing: the log owns the SyncProducer and closes it in Log.Close.
func (p *producer) Close() error { return nil }
