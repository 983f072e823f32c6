package embedded

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/internal/dispatch"
	"github.com/axon-matrix/axon/internal/eventlog/internal/metrics"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

// consumer reads the log's tables as a member of a consumer group.
type consumer struct{ log *Log }

// Close does nothing: each Consume call cleans up when its context ends.
func (c *consumer) Close() error { return nil }

// Consume delivers topic's messages to h one at a time (ConsumeBatch with maxBatch 1).
func (c *consumer) Consume(ctx context.Context, topic, group string, h eventlog.Handler) error {
	if h == nil {
		return fmt.Errorf("embedded eventlog: nil handler")
	}
	return c.ConsumeBatch(ctx, topic, group, 1, eventlog.Batch(h))
}

// ConsumeBatch delivers topic's messages to h as group until ctx is done. It first takes
// the group's lease on the topic (waiting while another live call holds it), then reads
// every partition from the group's committed offsets and hands the messages to a per-key
// dispatcher, which gives h each key's waiting messages in runs of up to maxBatch; offsets
// are written back as handlers finish.
func (c *consumer) ConsumeBatch(ctx context.Context, topic, group string, maxBatch int, h eventlog.BatchHandler) error {
	if group == "" {
		return fmt.Errorf("embedded eventlog: empty consumer group")
	}
	if h == nil {
		return fmt.Errorf("embedded eventlog: nil handler")
	}
	parts, err := c.log.partitionCount(ctx, topic)
	if err != nil {
		return err
	}
	owner, err := newOwnerID()
	if err != nil {
		return err
	}
	cfg := c.log.cfg
	log := c.log.logger().WithField("topic", topic).WithField("group", group)
	wait := cfg.PollInterval
	if t := cfg.LeaseTTL / 3; t < wait {
		wait = t
	}
	for attempt := 1; ; attempt++ {
		ok, err := c.log.acquireLease(ctx, group, topic, owner)
		if err == nil && ok {
			err = c.consumeOwned(ctx, topic, group, owner, parts, maxBatch, h)
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if rerr := c.log.releaseLease(rctx, group, topic, owner); rerr != nil {
				log.WithError(rerr).Warn("releasing consumer lease")
			}
			cancel()
			if err == nil {
				attempt = 0
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		delay := wait
		if err != nil {
			log.WithError(err).Warn("embedded consumer failed; retrying")
			delay = cfg.Backoff.Delay(attempt)
		}
		if !sleep(ctx, delay) {
			return nil
		}
	}
}

// consumeOwned consumes while this call holds the lease. It returns nil when ctx ends or
// the lease is lost, and an error on a database failure (Consume retries).
func (c *consumer) consumeOwned(ctx context.Context, topic, group, owner string, parts, maxBatch int, h eventlog.BatchHandler) error {
	cfg := c.log.cfg
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	pos, err := c.log.startPositions(runCtx, topic, group, parts)
	if err != nil {
		return err
	}
	log := c.log.logger().WithField("topic", topic).WithField("group", group)
	cm := &committer{log: c.log, topic: topic, group: group, dirty: map[int32]int64{}, signal: make(chan struct{}, 1)}
	d := dispatch.New(runCtx, dispatch.Config{
		BatchHandler: h,
		MaxBatch:     maxBatch,
		MaxActive:    cfg.MaxActiveKeys,
		MaxPending:   cfg.MaxPending,
		Backoff:      cfg.Backoff,
		Commit:       cm.mark,
		OnError: func(m eventlog.Message, attempt int, err error) {
			metrics.HandlerErrors.WithLabelValues("embedded", topic, group).Inc()
			log.WithError(err).WithField("key", m.Key).WithField("offset", m.Offset).
				WithField("attempt", attempt).Warn("handler failed; retrying")
		},
		OnSuccess: func(eventlog.Message) { metrics.Consumed.WithLabelValues("embedded", topic, group).Inc() },
	})

	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); cm.run(runCtx) }()
	go func() { defer bg.Done(); c.renewLease(runCtx, cancel, topic, group, owner) }()
	defer func() {
		cancel()
		d.Stop()
		bg.Wait()
		fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer fcancel()
		if err := cm.flush(fctx); err != nil {
			log.WithError(err).Warn("final offset commit failed; those messages will be delivered again")
		}
	}()

	// The first round and every poll tick read all partitions (publishes of other
	// processes); a wake-up from a publish in this process reads the partitions it names.
	sub, unsubscribe := c.log.subscribe(topic)
	defer unsubscribe()
	poll := time.NewTicker(cfg.PollInterval)
	defer poll.Stop()
	todo := map[int32]bool{}
	for p := int32(0); p < int32(parts); p++ {
		todo[p] = true
	}
	for {
		// Taken before reading, so a publish during the reads marks its partition again.
		for p := range sub.take() {
			todo[p] = true
		}
		next := map[int32]bool{}
		for p := int32(0); p < int32(parts); p++ {
			if !todo[p] {
				continue
			}
			msgs, err := c.log.fetch(runCtx, topic, p, pos[p], cfg.BatchSize)
			if err != nil {
				if runCtx.Err() != nil {
					return nil
				}
				return err
			}
			for _, m := range msgs {
				if err := d.Submit(runCtx, m); err != nil {
					return nil
				}
				pos[p] = m.Offset + 1
			}
			if len(msgs) == cfg.BatchSize {
				next[p] = true // more to read
			}
		}
		todo = next
		if len(todo) > 0 {
			continue
		}
		select {
		case <-sub.signal:
		case <-poll.C:
			for p := int32(0); p < int32(parts); p++ {
				todo[p] = true
			}
		case <-runCtx.Done():
			return nil
		}
	}
}

// renewLease keeps the lease alive and cancels the consumption when it is lost (another
// owner took it after it expired, or it could not be renewed for a whole TTL).
func (c *consumer) renewLease(ctx context.Context, cancel context.CancelFunc, topic, group, owner string) {
	ttl := c.log.cfg.LeaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := c.log.acquireLease(ctx, group, topic, owner)
		switch {
		case err == nil && ok:
			renewed = time.Now()
		case err == nil && !ok:
			c.log.logger().WithField("topic", topic).WithField("group", group).Warn("consumer lease lost to another owner")
			cancel()
			return
		case time.Since(renewed) > ttl:
			c.log.logger().WithError(err).Warn("consumer lease could not be renewed; stopping")
			cancel()
			return
		}
	}
}

// startPositions returns where the group reads each partition, registering the group (so
// retention keeps its messages) and applying the reset policy where there is no usable
// committed offset: none yet, or one outside [oldest message, end of log].
func (l *Log) startPositions(ctx context.Context, topic, group string, parts int) ([]int64, error) {
	pos := make([]int64, parts)
	err := sqlutil.WithTransaction(ctx, l.db.DB, func(tx *sql.Tx) error {
		for p := 0; p < parts; p++ {
			var end int64
			if err := tx.QueryRowContext(ctx, `SELECT next_offset FROM eventlog_partitions WHERE topic = $1 AND part = $2`,
				topic, p).Scan(&end); err != nil {
				return fmt.Errorf("reading end of %s/%d: %w", topic, p, err)
			}
			var oldest sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT MIN(msg_offset) FROM eventlog_messages WHERE topic = $1 AND part = $2`,
				topic, p).Scan(&oldest); err != nil {
				return err
			}
			first := end
			if oldest.Valid {
				first = oldest.Int64
			}
			reset := first
			if l.cfg.Reset == eventlog.ResetLatest {
				reset = end
			}
			var committed int64
			err := tx.QueryRowContext(ctx, `SELECT next_offset FROM eventlog_offsets WHERE grp = $1 AND topic = $2 AND part = $3`,
				group, topic, p).Scan(&committed)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				pos[p] = reset
				_, err = tx.ExecContext(ctx, `INSERT INTO eventlog_offsets (grp, topic, part, next_offset) VALUES ($1, $2, $3, $4)`,
					group, topic, p, reset)
			case err != nil:
			case committed < first || committed > end:
				l.logger().WithField("topic", topic).WithField("group", group).WithField("partition", p).
					WithField("committed", committed).WithField("reset_to", reset).Warn("committed offset out of range; resetting")
				pos[p] = reset
				_, err = tx.ExecContext(ctx, `UPDATE eventlog_offsets SET next_offset = $4 WHERE grp = $1 AND topic = $2 AND part = $3`,
					group, topic, p, reset)
			default:
				pos[p] = committed
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return pos, err
}

// fetch reads up to limit messages of one partition from offset on, in offset order.
func (l *Log) fetch(ctx context.Context, topic string, part int32, from int64, limit int) ([]eventlog.Message, error) {
	// LIMIT CAST(…): a bare LIMIT parameter makes SQLite re-prepare the statement on
	// every execution (internal/sqlutil/stmtcache.go).
	rows, err := l.db.QueryContext(ctx, `SELECT msg_offset, msg_key, value, headers FROM eventlog_messages
		WHERE topic = $1 AND part = $2 AND msg_offset >= $3 ORDER BY msg_offset LIMIT CAST($4 AS INTEGER)`, topic, part, from, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []eventlog.Message
	for rows.Next() {
		m := eventlog.Message{Topic: topic, Partition: part}
		var headers string
		if err := rows.Scan(&m.Offset, &m.Key, &m.Value, &headers); err != nil {
			return nil, err
		}
		if m.Headers, err = decodeHeaders(headers); err != nil {
			return nil, fmt.Errorf("embedded eventlog: bad headers at %s/%d/%d: %w", topic, part, m.Offset, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// committer writes commit positions the dispatcher reports to eventlog_offsets, coalescing
// bursts into one transaction.
type committer struct {
	log          *Log
	topic, group string
	signal       chan struct{}

	mu    sync.Mutex
	dirty map[int32]int64
}

// mark records a partition's new position; called by the dispatcher with its lock held.
func (c *committer) mark(part int32, next int64) {
	c.mu.Lock()
	c.dirty[part] = next
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// run flushes after a signal, at most once per CommitInterval, until ctx ends (the
// consumer flushes once more when it stops).
func (c *committer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.signal:
		}
		if err := c.flush(ctx); err != nil && ctx.Err() == nil {
			c.log.logger().WithError(err).WithField("topic", c.topic).WithField("group", c.group).Warn("committing offsets")
		}
		if d := c.log.cfg.CommitInterval; d > 0 && !sleep(ctx, d) {
			return
		}
	}
}

// flush writes the pending positions. Offsets only move forward, so a late writer cannot
// undo a newer commit. On failure the positions stay pending for the next flush.
func (c *committer) flush(ctx context.Context) error {
	c.mu.Lock()
	batch := c.dirty
	c.dirty = map[int32]int64{}
	c.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := sqlutil.WithTransaction(ctx, c.log.db.DB, func(tx *sql.Tx) error {
		for p, next := range batch {
			if _, err := tx.ExecContext(ctx, `INSERT INTO eventlog_offsets (grp, topic, part, next_offset) VALUES ($1, $2, $3, $4)
				ON CONFLICT (grp, topic, part) DO UPDATE SET next_offset = excluded.next_offset
				WHERE eventlog_offsets.next_offset < excluded.next_offset`, c.group, c.topic, p, next); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.mu.Lock()
		for p, next := range batch {
			if cur, ok := c.dirty[p]; !ok || cur < next {
				c.dirty[p] = next
			}
		}
		c.mu.Unlock()
	}
	return err
}

func newOwnerID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// sleep waits d or until ctx ends; false means ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
