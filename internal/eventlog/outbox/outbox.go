// Package outbox is the transactional outbox of ARCHITECTURE.md §5: a producer component
// (the roomserver for topics 2, 4 and 6, the eduserver for 3 and 5, the userapi for 1)
// stages its log messages in its own database inside the transaction that makes the change
// they announce, and a relay publishes them after the commit. A process killed between the
// commit and the publish publishes them when it starts again, so no committed change ever
// fails to reach its consumers. Delivery is at-least-once: a crash after the publish but
// before the staged rows are deleted publishes them again (consumers are idempotent).
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/internal/dispatch"
	"github.com/axon-matrix/axon/internal/eventlog/internal/metrics"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

var componentName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// Outbox stages messages in a component's database and relays them to a Producer. It
// implements eventlog.Outbox.
type Outbox struct {
	db        *sqlutil.DB
	component string
	table     string
	producer  eventlog.Producer
	kick      chan struct{}
	opts      options
	log       *logrus.Entry

	// SQLite only (one process writes the database, and AUTOINCREMENT ids commit in order
	// and are never reused): rows up to relayed are published but their DELETE is deferred
	// and done for many rounds at once, so a relay round costs no commit of its own on the
	// producer's database (ARCHITECTURE.md §5; the roomserver's sends share its writer).
	sqliteMu   sync.Mutex
	relayed    int64     // highest id published
	undeleted  int       // published rows not yet deleted
	lastDelete time.Time // when published rows were last deleted
}

var _ eventlog.Outbox = (*Outbox)(nil)

type options struct {
	batch       int
	poll        time.Duration
	backoff     dispatch.Backoff
	deleteEvery time.Duration
}

// WithDeleteInterval sets, on SQLite, how long published rows may stay in the outbox
// before one DELETE removes them (default 1s; 0 deletes after every round). A process
// killed in between publishes them again when it starts (at-least-once, as after a crash
// between publish and delete).
func WithDeleteInterval(d time.Duration) Option { return func(o *options) { o.deleteEvery = d } }

// maxUndeleted bounds the published rows a SQLite outbox keeps before deleting them
// whatever the interval.
const maxUndeleted = 2000

// Option tunes an Outbox.
type Option func(*options)

// WithBatchSize sets how many staged messages one relay round publishes (default 100).
func WithBatchSize(n int) Option { return func(o *options) { o.batch = n } }

// WithPollInterval sets how often the relay looks for staged rows without a Kick, which
// catches rows staged by another process or a Kick that was never sent (default 1s).
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.poll = d } }

// relayBackoff is the default wait between relay attempts after a failed publish: 100 ms
// doubling to 1 s. The cap is low so the relay publishes within a second of the log coming
// back after an outage (docs/eventlog.md, "Broker outage"); a failing Kafka publish itself
// takes a few seconds, so a dead broker is not hammered.
var relayBackoff = dispatch.Backoff{Min: 100 * time.Millisecond, Max: time.Second}

// WithBackoff sets the wait between relay attempts after a failed publish (default 100 ms
// doubling to 1 s).
func WithBackoff(b dispatch.Backoff) Option { return func(o *options) { o.backoff = b } }

// NewOutbox creates (migrating if needed) the outbox table <component>_outbox in db, the
// producing component's own database, relaying to producer. component must be a lower-case
// identifier such as "roomserver".
func NewOutbox(db *sqlutil.DB, component string, producer eventlog.Producer, opts ...Option) (*Outbox, error) {
	if !componentName.MatchString(component) {
		return nil, fmt.Errorf("outbox: bad component name %q", component)
	}
	if producer == nil {
		return nil, fmt.Errorf("outbox: nil producer")
	}
	o := &Outbox{
		db:         db,
		component:  component,
		table:      component + "_outbox",
		producer:   producer,
		kick:       make(chan struct{}, 1),
		opts:       options{batch: 100, poll: time.Second, backoff: relayBackoff, deleteEvery: time.Second},
		log:        logrus.WithField("outbox", component),
		lastDelete: time.Now(),
	}
	for _, f := range opts {
		f(&o.opts)
	}
	if o.opts.batch <= 0 {
		o.opts.batch = 100
	}
	if o.opts.poll <= 0 {
		o.opts.poll = time.Second
	}
	if err := sqlutil.Migrate(context.Background(), db, component+"_outbox", migrations(o.table)); err != nil {
		return nil, err
	}
	return o, nil
}

// Stage writes msgs into the outbox inside tx, the caller's transaction on the component's
// database: they are relayed if and only if tx commits. Call Kick after the commit.
//
// Messages of one key are relayed in commit order. On Postgres, Stage takes a
// transaction-scoped advisory lock per key so that two transactions staging for the same key
// commit in the order their rows were numbered; stage all messages of a transaction in one
// call (the keys are locked in sorted order, so concurrent calls cannot deadlock).
func (o *Outbox) Stage(ctx context.Context, tx *sql.Tx, msgs ...eventlog.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	for _, m := range msgs {
		if m.Topic == "" {
			return fmt.Errorf("outbox: message without topic")
		}
	}
	if tx == nil {
		return fmt.Errorf("outbox: Stage needs the caller's transaction")
	}
	if o.db.Dialect == sqlutil.Postgres {
		return o.stagePostgres(ctx, tx, msgs)
	}
	now := time.Now().UnixMilli()
	for _, m := range msgs {
		value, headers, err := storedForm(m)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+o.table+` (topic, msg_key, value, headers, created_ms)
			VALUES ($1, $2, $3, $4, $5)`, m.Topic, m.Key, value, headers, now); err != nil {
			return fmt.Errorf("outbox: staging: %w", err)
		}
	}
	return nil
}

// stagePostgres stages msgs in one statement (one round trip): it takes the advisory lock of
// each key, in sorted order, before inserting the rows, which get their ids in the order of
// msgs. The roomserver stages while it holds the topic 2 counter row (roomserver/storage
// AssignStreamPositions), so every round trip here keeps other rooms' sends waiting.
func (o *Outbox) stagePostgres(ctx context.Context, tx *sql.Tx, msgs []eventlog.Message) error {
	keys := make([]string, 0, len(msgs))
	seen := map[string]bool{}
	for _, m := range msgs {
		if !seen[m.Key] {
			seen[m.Key] = true
			keys = append(keys, m.Key)
		}
	}
	sort.Strings(keys)
	args := []any{hash32(o.table)}
	locks := make([]string, len(keys))
	for i, k := range keys {
		locks[i] = fmt.Sprintf("(CAST($%d AS INTEGER))", len(args)+1)
		args = append(args, hash32(k))
	}
	now := time.Now().UnixMilli()
	rows := make([]string, len(msgs))
	for i, m := range msgs {
		value, headers, err := storedForm(m)
		if err != nil {
			return err
		}
		n := len(args)
		rows[i] = fmt.Sprintf("(CAST($%d AS INTEGER), CAST($%d AS TEXT), CAST($%d AS TEXT), CAST($%d AS BYTEA), CAST($%d AS TEXT), CAST($%d AS BIGINT))",
			n+1, n+2, n+3, n+4, n+5, n+6)
		args = append(args, i, m.Topic, m.Key, value, headers, now)
	}
	// The locks' subquery is joined (one row), so it runs before any row is inserted; the
	// VALUES list of keys is scanned in order, so the locks are taken in sorted order and
	// concurrent stagers cannot deadlock; ORDER BY ord numbers the rows in msgs' order.
	_, err := tx.ExecContext(ctx, `WITH l AS (SELECT pg_advisory_xact_lock(CAST($1 AS INTEGER), k) FROM (VALUES `+strings.Join(locks, ", ")+`) AS ks (k))
		INSERT INTO `+o.table+` (topic, msg_key, value, headers, created_ms)
		SELECT v.topic, v.msg_key, v.value, v.headers, v.created_ms
		FROM (VALUES `+strings.Join(rows, ", ")+`) AS v (ord, topic, msg_key, value, headers, created_ms),
			(SELECT COUNT(*) FROM l) AS locked
		ORDER BY v.ord`, args...)
	if err != nil {
		return fmt.Errorf("outbox: staging: %w", err)
	}
	return nil
}

// storedForm is a message's value and headers as an outbox row holds them: the value never
// NULL, the headers as JSON or "" for none.
func storedForm(m eventlog.Message) (value []byte, headers string, err error) {
	value = m.Value
	if value == nil {
		value = []byte{}
	}
	if len(m.Headers) > 0 {
		b, err := json.Marshal(m.Headers)
		if err != nil {
			return nil, "", err
		}
		headers = string(b)
	}
	return value, headers, nil
}

// Kick wakes the relay so messages staged by a transaction that just committed go out at
// once. It never blocks.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Run relays staged messages until ctx is done, then returns nil. Publish failures are
// retried with backoff; nothing is deleted before its publish succeeded.
func (o *Outbox) Run(ctx context.Context) error {
	poll := time.NewTicker(o.opts.poll)
	defer poll.Stop()
	failures := 0
	defer func() {
		// Published rows whose DELETE was deferred: remove them now, so a clean shutdown
		// leaves nothing to publish twice.
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := o.flushDeletes(dctx); err != nil {
			o.log.WithError(err).Warn("deleting relayed outbox rows at shutdown; they will be published again")
		}
	}()
	for {
		n, err := o.Relay(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
			o.log.WithError(err).WithField("attempt", failures).Warn("relaying outbox failed; retrying")
			t := time.NewTimer(o.opts.backoff.Delay(failures))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		failures = 0
		if n == o.opts.batch {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-o.kick:
		case <-poll.C:
		}
	}
}

// Relay publishes one batch of staged messages, oldest first, and deletes them once the
// producer has stored them. It returns how many it relayed. Run calls it in a loop; tools
// and tests may call it directly.
func (o *Outbox) Relay(ctx context.Context) (int, error) {
	if o.db.Dialect == sqlutil.Postgres {
		// Several processes may run this component's relay; a transaction-scoped lock lets
		// one at a time publish, so they neither duplicate nor reorder messages. Holding a
		// transaction across the publish is fine on Postgres's connection pool.
		n := 0
		err := sqlutil.WithTransaction(ctx, o.db.DB, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(hash32(o.table))); err != nil {
				return err
			}
			var err error
			n, err = o.relay(ctx, tx)
			return err
		})
		return n, err
	}
	// SQLite has one connection, which the producer may need (the embedded log can live in
	// the same database), so no transaction is held across the publish; only one process
	// writes a SQLite database.
	o.sqliteMu.Lock()
	defer o.sqliteMu.Unlock()
	return o.relay(ctx, o.db.DB)
}

func (o *Outbox) relay(ctx context.Context, q sqlutil.Querier) (int, error) {
	// LIMIT CAST(…): a bare LIMIT parameter makes SQLite re-prepare the statement on
	// every execution (internal/sqlutil/stmtcache.go). On SQLite, rows up to o.relayed are
	// published already and only wait for their deferred DELETE (o.relayed is 0 on Postgres).
	rows, err := q.QueryContext(ctx, `SELECT id, topic, msg_key, value, headers FROM `+o.table+` WHERE id > $1 ORDER BY id LIMIT CAST($2 AS INTEGER)`, o.relayed, o.opts.batch)
	if err != nil {
		return 0, err
	}
	var ids []int64
	var msgs []eventlog.Message
	for rows.Next() {
		var id int64
		var m eventlog.Message
		var headers string
		if err := rows.Scan(&id, &m.Topic, &m.Key, &m.Value, &headers); err != nil {
			rows.Close()
			return 0, err
		}
		if headers != "" {
			if err := json.Unmarshal([]byte(headers), &m.Headers); err != nil {
				rows.Close()
				return 0, fmt.Errorf("outbox: bad headers in row %d: %w", id, err)
			}
		}
		ids = append(ids, id)
		msgs = append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(msgs) == 0 {
		if o.undeleted > 0 {
			// Idle: a good moment for the deferred DELETE.
			return 0, o.deleteRelayed(ctx)
		}
		return 0, nil
	}
	if err := o.producer.Publish(ctx, msgs...); err != nil {
		return 0, fmt.Errorf("outbox: publishing: %w", err)
	}
	metrics.OutboxRelayed.WithLabelValues(o.component).Add(float64(len(msgs)))
	if o.db.Dialect == sqlutil.SQLite {
		o.relayed = ids[len(ids)-1]
		o.undeleted += len(ids)
		if o.undeleted >= maxUndeleted || time.Since(o.lastDelete) >= o.opts.deleteEvery {
			if err := o.deleteRelayed(ctx); err != nil {
				// Published; deleted on a later round (or published again after a restart).
				o.log.WithError(err).Warn("deleting relayed outbox rows")
			}
		}
		return len(msgs), nil
	}
	// Postgres: one DELETE for the batch, inside the relay's transaction. By ID list, not by
	// range: a row with an ID inside the range may have committed after the SELECT and must
	// stay.
	if err := o.syncPublished(ctx); err != nil {
		return 0, err
	}
	ph := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		ph[i] = fmt.Sprintf("$%d", i+1)
		args[i] = id
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM `+o.table+` WHERE id IN (`+strings.Join(ph, ", ")+`)`, args...); err != nil {
		// Published but still staged: relayed again later (at-least-once).
		return 0, fmt.Errorf("outbox: deleting relayed rows: %w", err)
	}
	return len(msgs), nil
}

// deleteRelayed deletes the published rows of a SQLite outbox in one statement; the caller
// holds sqliteMu.
func (o *Outbox) deleteRelayed(ctx context.Context) error {
	if err := o.syncPublished(ctx); err != nil {
		return err
	}
	if _, err := o.db.ExecContext(ctx, `DELETE FROM `+o.table+` WHERE id <= $1`, o.relayed); err != nil {
		return fmt.Errorf("outbox: deleting relayed rows: %w", err)
	}
	o.undeleted = 0
	o.lastDelete = time.Now()
	return nil
}

// syncPublished makes what the producer has published durable before the rows that
// staged it are deleted, if the producer's Publish does not already (eventlog.Syncer: the
// embedded log on SQLite). Until it succeeds the rows stay and are published again after a
// crash (at-least-once).
func (o *Outbox) syncPublished(ctx context.Context) error {
	s, ok := o.producer.(eventlog.Syncer)
	if !ok {
		return nil
	}
	if err := s.Sync(ctx); err != nil {
		return fmt.Errorf("outbox: making published messages durable: %w", err)
	}
	return nil
}

// flushDeletes deletes published rows whose DELETE was deferred (SQLite).
func (o *Outbox) flushDeletes(ctx context.Context) error {
	if o.db.Dialect != sqlutil.SQLite {
		return nil
	}
	o.sqliteMu.Lock()
	defer o.sqliteMu.Unlock()
	if o.undeleted == 0 {
		return nil
	}
	return o.deleteRelayed(ctx)
}

// Pending reports how many messages are staged and not yet relayed (on SQLite, published
// rows that wait for their deferred DELETE are not counted).
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	o.sqliteMu.Lock()
	relayed := o.relayed
	o.sqliteMu.Unlock()
	var n int
	err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+o.table+` WHERE id > $1`, relayed).Scan(&n)
	return n, err
}

func hash32(s string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return int32(h.Sum32())
}
