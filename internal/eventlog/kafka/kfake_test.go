package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/eventlogtest"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestSuiteFake runs the shared suite against kfake, an in-process fake broker, so the
// backend's logic is exercised without a real broker. It never replaces TestSuite: the
// real-broker run is what proves the guarantees.
func TestSuiteFake(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
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
		Timeout: 20 * time.Second,
	})
}
