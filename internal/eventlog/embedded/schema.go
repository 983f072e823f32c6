package embedded

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// The embedded log's tables. The one difference between the dialects is the byte column
// type (BYTEA / BLOB); every statement below and in the other files is written once.
//
//	eventlog_topics      topic → partition count (EnsureTopics)
//	eventlog_partitions  next offset to assign per partition; its row lock orders producers
//	eventlog_messages    the log: (topic, part, msg_offset) → key, value, headers
//	eventlog_offsets     per consumer group and partition: the next offset to deliver
//	eventlog_leases      which Consume call currently owns a (group, topic)
//	eventlog_barrier     one row Sync writes durably (SQLite)
var migrations = []sqlutil.Migration{{
	Version: 1,
	Up: func(ctx context.Context, tx *sql.Tx, d sqlutil.Dialect) error {
		blob := "BLOB"
		if d == sqlutil.Postgres {
			blob = "BYTEA"
		}
		stmts := []string{
			`CREATE TABLE eventlog_topics (
				topic TEXT NOT NULL PRIMARY KEY,
				partitions INTEGER NOT NULL
			)`,
			`CREATE TABLE eventlog_partitions (
				topic TEXT NOT NULL,
				part INTEGER NOT NULL,
				next_offset BIGINT NOT NULL,
				PRIMARY KEY (topic, part)
			)`,
			`CREATE TABLE eventlog_messages (
				topic TEXT NOT NULL,
				part INTEGER NOT NULL,
				msg_offset BIGINT NOT NULL,
				msg_key TEXT NOT NULL,
				value ` + blob + ` NOT NULL,
				headers TEXT NOT NULL,
				created_ms BIGINT NOT NULL,
				PRIMARY KEY (topic, part, msg_offset)
			)`,
			`CREATE TABLE eventlog_offsets (
				grp TEXT NOT NULL,
				topic TEXT NOT NULL,
				part INTEGER NOT NULL,
				next_offset BIGINT NOT NULL,
				PRIMARY KEY (grp, topic, part)
			)`,
			`CREATE INDEX eventlog_offsets_partition ON eventlog_offsets (topic, part)`,
			`CREATE TABLE eventlog_leases (
				grp TEXT NOT NULL,
				topic TEXT NOT NULL,
				owner TEXT NOT NULL,
				expires_ms BIGINT NOT NULL,
				PRIMARY KEY (grp, topic)
			)`,
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s[:40], err)
			}
		}
		return nil
	},
}, {
	// Version 2: the row Sync writes with synchronous=FULL to make the publishes before it
	// durable on SQLite (producer.Sync). Unused on Postgres.
	Version: 2,
	SQL: `CREATE TABLE eventlog_barrier (id INTEGER PRIMARY KEY, syncs BIGINT NOT NULL);
		INSERT INTO eventlog_barrier (id, syncs) VALUES (1, 0)`,
}}
