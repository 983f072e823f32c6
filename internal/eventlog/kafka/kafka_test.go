package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

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

// Publishing after Close fails cleanly instead of panicking inside sarama.
func TestPublishAfterClose(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	l := openLog(t, testConfig(cluster.ListenAddrs()))
	if err := l.Producer().Publish(context.Background(), eventlog.Message{Topic: "t", Key: "k"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Producer().Publish(context.Background(), eventlog.Message{Topic: "t", Key: "k"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close = %v, want ErrClosed", err)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no brokers", Config{}},
		{"bad reset policy", Config{Brokers: []string{"127.0.0.1:1"}, Reset: "sometimes"}},
		{"bad version", Config{Brokers: []string{"127.0.0.1:1"}, Version: "x.y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
}
