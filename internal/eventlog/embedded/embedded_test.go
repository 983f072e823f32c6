package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/eventlogtest"
	"github.com/axon-matrix/axon/internal/eventlog/internal/dispatch"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// testConfig keeps waits short so the suite runs fast.
var testConfig = Config{
	PollInterval:      50 * time.Millisecond,
	Backoff:           dispatch.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	LeaseTTL:          3 * time.Second,
	RetentionInterval: -1,
}

func openDB(t *testing.T, dsn string) *sqlutil.DB {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openLog(t *testing.T, dsn string, cfg Config) *Log {
	t.Helper()
	l, err := New(context.Background(), openDB(t, dsn), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

// TestSuite runs the shared backend suite on SQLite and Postgres.
func TestSuite(t *testing.T) {
	for name, mkDSN := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			eventlogtest.Run(t, eventlogtest.Backend{
				Open: func(t *testing.T) (eventlog.Log, func(t *testing.T) eventlog.Log) {
					dsn := mkDSN(t)
					return openLog(t, dsn, testConfig), func(t *testing.T) eventlog.Log { return openLog(t, dsn, testConfig) }
				},
				OutboxDB: func(t *testing.T) *sqlutil.DB { return openDB(t, mkDSN(t)) },
				NewOutbox: func(db *sqlutil.DB, component string, p eventlog.Producer) (eventlog.Outbox, error) {
					return outbox.NewOutbox(db, component, p, outbox.WithPollInterval(50*time.Millisecond))
				},
				Timeout: 20 * time.Second,
			})
		})
	}
}
