package setup

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/axon-matrix/axon/internal/config"
)

// testBrokers are the single-broker Kafka clusters the event log tests run on: kfake, an
// in-process fake, always; the real broker too when AXON_TEST_KAFKA_BROKERS is set.
func testBrokers(t *testing.T) map[string][]string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	out := map[string][]string{"kfake": cluster.ListenAddrs()}
	if b := os.Getenv("AXON_TEST_KAFKA_BROKERS"); b != "" {
		out["kafka"] = strings.Split(b, ",")
	}
	return out
}

// OpenEventLog (the monolith's and every polylith binary's) hands global.event_log.kafka.replication_factor to the broker when it
// creates topics 1–6: on a one-broker cluster a factor of 2 is refused, 1 and 0 (the
// broker's default) are not. Each case uses its own topic prefix, so no topic exists yet.
func TestOpenEventLogReplicationFactor(t *testing.T) {
	for name, brokers := range testBrokers(t) {
		for _, tc := range []struct {
			factor  int
			wantErr bool
		}{{0, false}, {1, false}, {2, true}} {
			t.Run(fmt.Sprintf("%s/rf%d", name, tc.factor), func(t *testing.T) {
				cfg := config.Defaults(t.TempDir())
				cfg.Global.ServerName = "poly.example"
				el := &cfg.Global.EventLog
				el.Backend = config.EventLogKafka
				el.Kafka.Brokers = brokers
				el.Kafka.Partitions = 1
				el.Kafka.ReplicationFactor = tc.factor
				el.Kafka.TopicPrefix = fmt.Sprintf("h4rf%d-%d-", tc.factor, time.Now().UnixNano())
				if err := cfg.Validate(); err != nil {
					t.Fatal(err)
				}
				base, err := NewBase(cfg, config.ComponentUserAPI)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = base.Shutdown(context.Background()) }()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, err = base.OpenEventLog(ctx)
				if tc.wantErr {
					if err == nil || !strings.Contains(strings.ToLower(err.Error()), "replication") {
						t.Fatalf("replication factor %d on one broker: err = %v, want a replication factor error", tc.factor, err)
					}
				} else if err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
