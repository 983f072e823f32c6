package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

func TestPrepare(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  string
		env   map[string]string
		code  int
		check func(t *testing.T, c *config.Config)
	}{
		{"polylith", "polylith", map[string]string{"AXON_DATABASE": "postgres://axon:pw@postgres:5432/axon?sslmode=disable",
			"AXON_SERVER_NAME": "example.org"}, 0, func(t *testing.T, c *config.Config) {
			if c.Global.ServerName != "example.org" || c.Global.EventLog.Backend != config.EventLogKafka ||
				c.Global.EventLog.Kafka.Brokers[0] != "kafka:9092" || c.Global.InternalAPISecret == "" {
				t.Errorf("global: %+v", c.Global)
			}
			if c.UserAPI.InternalAPIURL != "http://user-api:7781" || c.UserAPI.InternalAPIListen != "0.0.0.0:7781" {
				t.Errorf("user_api: %q %q", c.UserAPI.InternalAPIURL, c.UserAPI.InternalAPIListen)
			}
			if c.ClientAPIProxy.SyncAPIURLs[0] != "http://sync-api:8072" || c.ClientAPIProxy.ResolveInterval <= 0 {
				t.Errorf("proxy: %+v", c.ClientAPIProxy)
			}
			if c.ClientAPI.RegistrationMode != config.RegistrationClosed || !c.Global.RateLimits.Enabled {
				t.Errorf("secure defaults lost: registration %q, rate limits %v", c.ClientAPI.RegistrationMode, c.Global.RateLimits.Enabled)
			}
		}},
		{"polylith open registration for tests", "polylith", map[string]string{"AXON_DATABASE": "postgres://x@pg/axon",
			"AXON_REGISTRATION_MODE": "open", "AXON_RATE_LIMITS": "false", "AXON_TRUSTED_PROXIES": "172.30.57.0/24"}, 0,
			func(t *testing.T, c *config.Config) {
				if c.ClientAPI.RegistrationMode != config.RegistrationOpen || !c.ClientAPI.AllowOpenRegistrationOnPublicListener ||
					c.Global.RateLimits.Enabled || len(c.Global.TrustedProxies) != 1 {
					t.Errorf("env not applied: %+v %+v", c.ClientAPI, c.Global.TrustedProxies)
				}
			}},
		{"monolith", "monolith", nil, 0, func(t *testing.T, c *config.Config) {
			if c.Monolith.HTTPBind != "0.0.0.0:8008" || c.Global.EventLog.Backend != config.EventLogEmbedded || c.Global.DataDir != "/data" {
				t.Errorf("monolith: %+v %+v", c.Monolith, c.Global)
			}
		}},
		{"polylith without a database", "polylith", nil, 1, nil},
		{"bad rate limits", "monolith", map[string]string{"AXON_RATE_LIMITS": "maybe"}, 1, nil},
		{"bad registration mode", "monolith", map[string]string{"AXON_REGISTRATION_MODE": "everyone"}, 1, nil},
		{"bad mode", "cluster", nil, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "axon.yaml")
			getenv := func(k string) string { return tc.env[k] }
			args := []string{"-mode", tc.mode, "-config", path}
			if code := run(args, getenv, io.Discard); code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			if tc.code != 0 {
				if _, err := os.Stat(path); err == nil {
					t.Error("a failed run left a config file")
				}
				return
			}
			first, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			// The key is where the config says, in the config's directory.
			if filepath.Dir(c.Global.PrivateKeyPath) != dir {
				t.Errorf("key path %s, want it in %s", c.Global.PrivateKeyPath, dir)
			}
			key, err := c.SigningKey()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
			// A second run (every `up`) keeps the file and the key, even with other settings.
			if code := run(args, func(string) string { return "other" }, io.Discard); code != 0 {
				t.Fatalf("second run: exit %d", code)
			}
			again, _ := os.ReadFile(path)
			key2, err := c.SigningKey()
			if string(again) != string(first) || err != nil || key2.ID != key.ID {
				t.Error("the second run changed the config or the key")
			}
		})
	}
}
