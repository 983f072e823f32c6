package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/internal/metrics"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

// producer writes messages into the log's tables.
type producer struct{ log *Log }

type partKey struct {
	topic string
	part  int32
}

// Publish stores msgs in one transaction: when it returns nil every message is stored and
// survives a crash of this process; when it fails none is. On Postgres, and on SQLite
// opened with synchronous=NORMAL, that is all the durability there is. On SQLite opened
// with FULL the transaction commits with NORMAL (no fsync of its own) and Sync makes it
// durable (see relaxedTx). Each partition's offsets come from an UPDATE … RETURNING on its
// eventlog_partitions row, whose row lock makes concurrent producers (other processes on
// Postgres) take offsets in commit order, so a consumer never sees a gap that fills later.
func (p *producer) Publish(ctx context.Context, msgs ...eventlog.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	groups := map[partKey][]eventlog.Message{}
	for _, m := range msgs {
		n, err := p.log.partitionCount(ctx, m.Topic)
		if err != nil {
			return err
		}
		k := partKey{m.Topic, partitionFor(m.Key, n)}
		groups[k] = append(groups[k], m)
	}
	// Lock partition rows in one global order so two producers cannot deadlock.
	keys := make([]partKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].part < keys[j].part
	})
	now := time.Now().UnixMilli()
	store := func(tx *sql.Tx) error {
		for _, k := range keys {
			g := groups[k]
			var end int64
			if err := tx.QueryRowContext(ctx, `UPDATE eventlog_partitions SET next_offset = next_offset + $1
				WHERE topic = $2 AND part = $3 RETURNING next_offset`, len(g), k.topic, k.part).Scan(&end); err != nil {
				return fmt.Errorf("embedded eventlog: assigning offsets in %s/%d: %w", k.topic, k.part, err)
			}
			base := end - int64(len(g))
			for i, m := range g {
				headers, err := encodeHeaders(m.Headers)
				if err != nil {
					return err
				}
				value := m.Value
				if value == nil {
					value = []byte{}
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO eventlog_messages
					(topic, part, msg_offset, msg_key, value, headers, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
					k.topic, k.part, base+int64(i), m.Key, value, headers, now); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var err error
	if p.log.syncMode != "" {
		err = p.log.relaxedTx(ctx, store)
	} else {
		err = sqlutil.WithTransaction(ctx, p.log.db.DB, store)
	}
	if err != nil {
		return err
	}
	for _, k := range keys {
		metrics.Published.WithLabelValues("embedded", k.topic).Add(float64(len(groups[k])))
		p.log.notify(k.topic, k.part)
	}
	return nil
}

// Sync makes every message published before it durable (eventlog.Syncer): on SQLite with
// FULL it commits one small write with FULL, whose fsync of the write-ahead log covers the
// NORMAL commits before it (they precede it in the same file, and SQLite's recovery keeps
// the log only up to its first frame that did not reach the disk). Otherwise Publish was
// as durable as the database already, and Sync does nothing.
func (p *producer) Sync(ctx context.Context) error {
	if p.log.syncMode == "" {
		return nil
	}
	return sqlutil.WithTransaction(ctx, p.log.db.DB, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE eventlog_barrier SET syncs = syncs + 1 WHERE id = 1`)
		return err
	})
}

// Close does nothing: the producer holds no resources of its own.
func (p *producer) Close() error { return nil }

func encodeHeaders(h map[string]string) (string, error) {
	if len(h) == 0 {
		return "", nil
	}
	b, err := json.Marshal(h)
	return string(b), err
}

func decodeHeaders(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var h map[string]string
	err := json.Unmarshal([]byte(s), &h)
	return h, err
}
