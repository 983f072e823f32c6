// Package embedded is the event log kept in the server's own database (SQLite or Postgres
// through internal/sqlutil), for the monolith and single-machine installs (ARCHITECTURE.md
// §5). It carries topics 1–6 with the same guarantees as the Kafka backend: per-key order
// (a key always maps to one partition, and a partition's offsets are assigned in commit
// order), durable consumer offsets committed only after the handler succeeded, and nothing
// lost across a restart.
//
// Consumers in the same process are woken at once when a message is published; consumers
// in other processes sharing a Postgres database notice new messages by polling.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/internal/dispatch"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

// ErrUnknownTopic is returned for a topic that EnsureTopics never created, as Kafka does
// with automatic topic creation off.
var ErrUnknownTopic = errors.New("embedded eventlog: unknown topic")

// Config tunes the embedded log. The zero value works.
type Config struct {
	// PollInterval is how often an idle consumer looks for messages published by another
	// process (default 500ms). Publishes in this process wake consumers at once.
	PollInterval time.Duration
	// BatchSize is how many messages a consumer reads per partition per query (default 256).
	BatchSize int
	// MaxActiveKeys caps concurrent handler calls per Consume (default 16).
	MaxActiveKeys int
	// MaxPending caps delivered but unfinished messages per Consume (default 1024).
	MaxPending int
	// Backoff is the wait between retries of a failing handler.
	Backoff dispatch.Backoff
	// Reset says where a group without a usable committed offset starts (default earliest).
	Reset eventlog.OffsetReset
	// LeaseTTL is how long a (group, topic) stays owned by a Consume call that stopped
	// renewing it, e.g. a killed process (default 15s). Only one Consume call per group
	// and topic runs at a time; others wait for the lease.
	LeaseTTL time.Duration
	// CommitInterval is the least time between two offset commits of one consumer (default
	// 200ms; negative commits after every handled message). The first commit after a quiet
	// spell is immediate; under load a commit covers every message handled since the last,
	// so offsets cost one small transaction per interval and not one per message. A process
	// killed in between gets those messages again (at-least-once; handlers are idempotent).
	CommitInterval time.Duration
	// RetentionInterval is how often messages every registered group has consumed are
	// deleted (default 1 minute; negative disables the sweep).
	RetentionInterval time.Duration
}

func (c *Config) defaults() {
	if c.PollInterval <= 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 256
	}
	if c.Reset == "" {
		c.Reset = eventlog.ResetEarliest
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 15 * time.Second
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = 200 * time.Millisecond
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = time.Minute
	}
}

// Log is the embedded event log. It implements eventlog.Log.
type Log struct {
	db  *sqlutil.DB
	cfg Config
	// syncMode is the database's own synchronous setting (e.g. "2", FULL) when publishes
	// commit with NORMAL and Sync restores durability (SQLite opened with FULL or stricter);
	// "" otherwise (Postgres, or SQLite opened with NORMAL).
	syncMode string

	mu     sync.Mutex
	parts  map[string]int                      // topic → partition count, cached
	subs   map[string]map[*subscriber]struct{} // topic → this process's consuming loops
	closed bool

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ eventlog.Log = (*Log)(nil)

// New creates the log's tables in db if needed and starts its retention sweep. The caller
// keeps ownership of db; Close stops the log but does not close db.
func New(ctx context.Context, db *sqlutil.DB, cfg Config) (*Log, error) {
	cfg.defaults()
	if _, err := eventlog.ParseOffsetReset(string(cfg.Reset)); err != nil {
		return nil, err
	}
	if err := sqlutil.Migrate(ctx, db, "eventlog", migrations); err != nil {
		return nil, err
	}
	l := &Log{
		db:    db,
		cfg:   cfg,
		parts: make(map[string]int),
		subs:  make(map[string]map[*subscriber]struct{}),
		stop:  make(chan struct{}),
	}
	if db.Dialect == sqlutil.SQLite {
		var mode int
		if err := db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&mode); err != nil {
			return nil, fmt.Errorf("embedded eventlog: reading synchronous: %w", err)
		}
		if mode >= sqliteSyncFull {
			l.syncMode = strconv.Itoa(mode)
		}
	}
	if cfg.RetentionInterval > 0 {
		l.wg.Add(1)
		go l.retentionLoop()
	}
	return l, nil
}

// Producer returns a producer writing into this log.
func (l *Log) Producer() eventlog.Producer { return &producer{log: l} }

// Consumer returns a consumer reading from this log.
func (l *Log) Consumer() eventlog.Consumer { return &consumer{log: l} }

// EnsureTopics creates the topics that do not exist yet with the given partition count.
// An existing topic keeps its partition count (changing it would move keys between
// partitions and break their order).
func (l *Log) EnsureTopics(ctx context.Context, partitions int, topics ...string) error {
	if partitions <= 0 {
		return fmt.Errorf("embedded eventlog: partition count must be positive, got %d", partitions)
	}
	return sqlutil.WithTransaction(ctx, l.db.DB, func(tx *sql.Tx) error {
		for _, t := range topics {
			if t == "" {
				return fmt.Errorf("embedded eventlog: empty topic name")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO eventlog_topics (topic, partitions) VALUES ($1, $2)
				ON CONFLICT (topic) DO NOTHING`, t, partitions); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT partitions FROM eventlog_topics WHERE topic = $1`, t).Scan(&n); err != nil {
				return err
			}
			for p := 0; p < n; p++ {
				if _, err := tx.ExecContext(ctx, `INSERT INTO eventlog_partitions (topic, part, next_offset) VALUES ($1, $2, 0)
					ON CONFLICT (topic, part) DO NOTHING`, t, p); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Close stops the retention sweep. Consumers end when their contexts do.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	l.wg.Wait()
	return nil
}

// partitionCount returns topic's partition count, from the cache or the database.
func (l *Log) partitionCount(ctx context.Context, topic string) (int, error) {
	l.mu.Lock()
	n, ok := l.parts[topic]
	l.mu.Unlock()
	if ok {
		return n, nil
	}
	err := l.db.QueryRowContext(ctx, `SELECT partitions FROM eventlog_topics WHERE topic = $1`, topic).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w %q", ErrUnknownTopic, topic)
	}
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	l.parts[topic] = n
	l.mu.Unlock()
	return n, nil
}

// partitionFor maps a key to a partition: FNV-1a of the key, so one key always lands in
// the same partition and keeps its order.
func partitionFor(key string, partitions int) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int32(h.Sum32() % uint32(partitions))
}

// subscriber is one consuming loop of this process waiting for publishes to a topic: it
// learns which partitions received messages, so a wake-up reads those partitions only
// (one query) instead of all of them (eight by default) — with one message per wake-up,
// as under a steady load, that was most of the log's reads.
type subscriber struct {
	signal chan struct{} // buffered 1: a publish since the last take
	mu     sync.Mutex
	dirty  map[int32]bool
}

// take returns and forgets the partitions published to since the last take.
func (s *subscriber) take() map[int32]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dirty
	s.dirty = map[int32]bool{}
	return d
}

// subscribe registers a consuming loop for topic's publishes in this process; call the
// returned function when it stops.
func (l *Log) subscribe(topic string) (*subscriber, func()) {
	s := &subscriber{signal: make(chan struct{}, 1), dirty: map[int32]bool{}}
	l.mu.Lock()
	if l.subs[topic] == nil {
		l.subs[topic] = map[*subscriber]struct{}{}
	}
	l.subs[topic][s] = struct{}{}
	l.mu.Unlock()
	return s, func() {
		l.mu.Lock()
		delete(l.subs[topic], s)
		if len(l.subs[topic]) == 0 {
			delete(l.subs, topic)
		}
		l.mu.Unlock()
	}
}

// notify tells this process's consumers of topic that partition part has new messages.
func (l *Log) notify(topic string, part int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs[topic] {
		s.mu.Lock()
		s.dirty[part] = true
		s.mu.Unlock()
		select {
		case s.signal <- struct{}{}:
		default:
		}
	}
}

func (l *Log) logger() *logrus.Entry {
	return logrus.WithField("eventlog", "embedded")
}
