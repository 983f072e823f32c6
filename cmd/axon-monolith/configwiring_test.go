package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"golang.org/x/crypto/bcrypt"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/internal/testenv"
)

// user_api.bcrypt_cost reaches the userapi: a registered account's stored hash has that
// cost (the default is 12), on SQLite and on Postgres.
func TestBcryptCostFromConfig(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			cfg := fmt.Sprintf("global:\n  server_name: bcrypt.test\n  data_dir: %q\n", dir)
			if backend == "postgres" {
				cfg += fmt.Sprintf("  database:\n    connection_string: %q\n", testenv.PostgresDSN(t))
			}
			cfg += "user_api:\n  bcrypt_cost: 5\n"
			path := filepath.Join(dir, "axon.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			m, c := startTest(t, &options{configPath: path, httpBind: "127.0.0.1:0"})
			defer stop(t, m)
			r := c.must(401, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "dan", "password": "secret-pw"})
			c.must(200, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "dan", "password": "secret-pw",
				"auth": map[string]any{"type": "m.login.dummy", "session": r["session"]}})
			db, err := m.base.OpenDatabase(config.ComponentUserAPI)
			if err != nil {
				t.Fatal(err)
			}
			var hash string
			if err := db.QueryRowContext(t.Context(), `SELECT password_hash FROM userapi_accounts WHERE localpart = $1`, "dan").Scan(&hash); err != nil {
				t.Fatal(err)
			}
			if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != 5 {
				t.Fatalf("stored hash cost = %d (%v), want 5", cost, err)
			}
		})
	}
}

// global.event_log.kafka.replication_factor reaches the broker when the monolith creates
// topics 1–6: on a one-broker cluster (kfake always, the real broker when
// AXON_TEST_KAFKA_BROKERS is set) a factor of 2 is refused, 1 and 0 (the broker's default)
// are not. Each case has its own topic prefix, so no topic exists beforehand.
func TestKafkaReplicationFactorFromConfig(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	clusters := map[string][]string{"kfake": cluster.ListenAddrs()}
	if b := os.Getenv("AXON_TEST_KAFKA_BROKERS"); b != "" {
		clusters["kafka"] = strings.Split(b, ",")
	}
	for name, brokers := range clusters {
		for _, tc := range []struct {
			factor  int
			wantErr bool
		}{{0, false}, {1, false}, {2, true}} {
			t.Run(fmt.Sprintf("%s/rf%d", name, tc.factor), func(t *testing.T) {
				cfg := config.Defaults(t.TempDir())
				cfg.Global.ServerName = "kafka.test"
				el := &cfg.Global.EventLog
				el.Backend = config.EventLogKafka
				el.Kafka.Brokers = brokers
				el.Kafka.Partitions = 1
				el.Kafka.ReplicationFactor = tc.factor
				el.Kafka.TopicPrefix = fmt.Sprintf("monorf%d-%d-", tc.factor, time.Now().UnixNano())
				if err := cfg.Validate(); err != nil {
					t.Fatal(err)
				}
				base, err := setup.NewBase(cfg, config.ComponentMonolith)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = base.Shutdown(context.Background()) }()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, err = openLog(ctx, base, cfg)
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
