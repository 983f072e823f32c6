package setup

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

func TestDescribe(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name       string
		mutate     func(c *config.Config)
		dbs, log   string
		reg        string
		regWarn    bool
		notContain string
	}{
		{"defaults", nil, "SQLite, one file per component in " + dir, "embedded, in SQLite file " + filepath.Join(dir, "eventlog.db"),
			"registration: open, from this machine only", false, ""},
		{"postgres and kafka", func(c *config.Config) {
			c.Global.Database.ConnectionString = "postgres://axon:hunter2@db.example.org:5432/axon?sslmode=disable"
			c.Global.EventLog.Backend = config.EventLogKafka
			c.Global.EventLog.Kafka.Brokers = []string{"k1:9092", "k2:9092"}
			c.ClientAPI.RegistrationMode = config.RegistrationToken
		}, "Postgres db.example.org:5432/axon", "Kafka at k1:9092, k2:9092", "registration: with a registration token only", false, "hunter2"},
		{"key=value dsn, closed", func(c *config.Config) {
			c.Global.Database.ConnectionString = "host=db dbname=axon password=hunter2"
			c.ClientAPI.RegistrationMode = config.RegistrationClosed
		}, "Postgres db/axon", "embedded, in Postgres db/axon", "registration: closed", false, "hunter2"},
		{"open beyond loopback", func(c *config.Config) {
			c.Monolith.HTTPBind = "0.0.0.0:8008"
			c.ClientAPI.AllowOpenRegistrationOnPublicListener = true
		}, "", "", `registration: OPEN to anyone who can reach monolith.http_bind "0.0.0.0:8008"`, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Defaults(dir)
			if tc.mutate != nil {
				tc.mutate(c)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			all := DescribeDatabases(c) + "\n" + DescribeEventLog(c)
			if tc.dbs != "" && !strings.HasPrefix(DescribeDatabases(c), tc.dbs) {
				t.Errorf("databases = %q, want %q", DescribeDatabases(c), tc.dbs)
			}
			if tc.log != "" && DescribeEventLog(c) != tc.log && !strings.HasPrefix(DescribeEventLog(c), tc.log) {
				t.Errorf("event log = %q, want %q", DescribeEventLog(c), tc.log)
			}
			reg := DescribeRegistration(c)
			if !strings.HasPrefix(reg.Msg, tc.reg) || reg.Warn != tc.regWarn {
				t.Errorf("registration = %+v, want %q warn=%v", reg, tc.reg, tc.regWarn)
			}
			if tc.notContain != "" && strings.Contains(all, tc.notContain) {
				t.Errorf("%q shows the password", all)
			}
		})
	}
}
