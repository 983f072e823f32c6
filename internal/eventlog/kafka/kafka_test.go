package kafka

import (
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/eventlogtest"
	"github.com/axon-matrix/axon/internal/eventlog/internal/dispatch"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

func testConfig(brokers []string) Config {
	return Config{
		Brokers:        brokers,
		Backoff:        dispatch.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		CommitInterval: 200 * time.Millisecond,
	}
}

func openLog(t *testing.T, cfg Config) *Log {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// TestSuite runs the shared backend suite against the real broker (scripts/kafka.sh).
func TestSuite(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	eventlogtest.Run(t, eventlogtest.Backend{
		Open: func(t *testing.T) (eventlog.Log, func(t *testing.T) eventlog.Log) {
			return openLog(t, testConfig(brokers)), func(t *testing.T) eventlog.Log { return openLog(t, testConfig(brokers)) }
		},
		OutboxDB: func(t *testing.T) *sqlutil.DB {
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "outbox")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		NewOutbox: func(db *sqlutil.DB, component string, p eventlog.Producer) (eventlog.Outbox, error) {
			return outbox.NewOutbox(db, component, p, outbox.WithPollInterval(50*time.Millisecond))
		},
		Timeout: 30 * time.Second,
	})
}
