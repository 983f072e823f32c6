package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c := Defaults("/srv/axon")
	if err := c.Validate(); err != nil {
		t.Fatalf("Defaults do not validate: %v", err)
	}
	if c.Global.ServerName != "localhost" || c.Monolith.HTTPBind != "127.0.0.1:8008" || c.Global.EventLog.Backend != "embedded" ||
		c.Global.DefaultRoomVersion != "10" {
		t.Fatalf("unexpected defaults: %+v", c.Global)
	}
	// Nothing listens beyond loopback and registration is open only there (issue 10).
	if c.ClientAPI.RegistrationMode != RegistrationOpen || len(c.PublicRegistrationListeners()) != 0 ||
		c.Monolith.MetricsBind != "127.0.0.1:9108" || c.ClientAPIProxy.MetricsListen != "127.0.0.1:9108" ||
		c.Global.Metrics.BearerToken != "" {
		t.Fatalf("unsafe defaults: %+v %+v", c.ClientAPI, c.Monolith)
	}
	for _, s := range c.sections() {
		if !IsLoopbackListen(s.comp.InternalAPIListen) || (s.public != nil && !IsLoopbackListen(*s.public)) {
			t.Errorf("%s listens beyond loopback by default: %q %v", s.yamlKey, s.comp.InternalAPIListen, s.public)
		}
	}
	if !IsLoopbackListen(c.ClientAPIProxy.Listen) {
		t.Errorf("client_api_proxy.listen = %q", c.ClientAPIProxy.Listen)
	}
	if got, want := c.Global.PrivateKeyPath, filepath.Join("/srv/axon", "signing.key"); got != want {
		t.Fatalf("private_key_path = %q, want %q", got, want)
	}
	if Defaults("").Global.DataDir != DefaultDataDir {
		t.Fatalf("empty data dir does not default to %s", DefaultDataDir)
	}
}

func TestDatabaseFor(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		component string
		want      Database
	}{
		{"default sqlite per component", "", ComponentUserAPI,
			Database{ConnectionString: "file:/d/userapi.db", MaxOpenConns: 10, MaxIdleConns: 10}},
		{"default embedded event log", "", ComponentEventLog,
			Database{ConnectionString: "file:/d/eventlog.db", MaxOpenConns: 10, MaxIdleConns: 10}},
		{"global database moves every component", "global: {database: {connection_string: 'postgres://h/axon', max_open_conns: 20}}", ComponentRoomServer,
			Database{ConnectionString: "postgres://h/axon", MaxOpenConns: 20, MaxIdleConns: 10}},
		{"global database moves the event log", "global: {database: {connection_string: 'postgres://h/axon'}}", ComponentEventLog,
			Database{ConnectionString: "postgres://h/axon", MaxOpenConns: 10, MaxIdleConns: 10}},
		{"component override wins", "global: {database: {connection_string: 'postgres://h/axon'}}\nsync_api: {database: {connection_string: 'postgres://h/sync', max_idle_conns: 5, conn_max_lifetime: 5m}}", ComponentSyncAPI,
			Database{ConnectionString: "postgres://h/sync", MaxOpenConns: 10, MaxIdleConns: 5, ConnMaxLifetime: 5 * time.Minute}},
		{"override leaves others alone", "sync_api: {database: {connection_string: 'postgres://h/sync'}}", ComponentClientAPI,
			Database{ConnectionString: "file:/d/clientapi.db", MaxOpenConns: 10, MaxIdleConns: 10}},
		{"event log override", "global: {event_log: {database: {connection_string: 'file:/x/log.db'}}}", ComponentEventLog,
			Database{ConnectionString: "file:/x/log.db", MaxOpenConns: 10, MaxIdleConns: 10}},
		{"unknown component gets its own file", "", "widgets",
			Database{ConnectionString: "file:/d/widgets.db", MaxOpenConns: 10, MaxIdleConns: 10}},
		{"sqlite_synchronous reaches every database", "global: {sqlite_synchronous: normal}", ComponentUserAPI,
			Database{ConnectionString: "file:/d/userapi.db", MaxOpenConns: 10, MaxIdleConns: 10, sqliteSynchronous: "normal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			c.Global.DataDir = "/d" // DatabaseFor derives SQLite paths when called
			if tt.want.sqliteSynchronous == "" {
				tt.want.sqliteSynchronous = "full" // the default
			}
			if got := c.DatabaseFor(tt.component); got != tt.want {
				t.Fatalf("DatabaseFor(%s) = %+v, want %+v", tt.component, got, tt.want)
			}
		})
	}
}

func TestTopicName(t *testing.T) {
	tests := []struct{ yaml, base, want string }{
		{"", "room_event", "axon.room_event"},
		{"global: {event_log: {kafka: {topic_prefix: 'prod-'}}}", "edu", "prod-edu"},
		{"global: {event_log: {kafka: {topic_prefix: ''}}}", "edu", "edu"},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.TopicName(tt.base); got != tt.want {
			t.Errorf("TopicName(%q) with %q = %q, want %q", tt.base, tt.yaml, got, tt.want)
		}
	}
}

func TestParseMergesOverDefaults(t *testing.T) {
	c, err := Parse([]byte(`
global:
  server_name: example.org
  data_dir: /var/lib/axon
  event_log:
    backend: kafka
    kafka:
      brokers: [k1:9092, k2:9092]
client_api:
  public_listen: "127.0.0.1:9000"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults("/var/lib/axon")
	want.Global.ServerName = "example.org"
	want.Global.EventLog.Backend = "kafka"
	want.Global.EventLog.Kafka.Brokers = []string{"k1:9092", "k2:9092"}
	want.ClientAPI.PublicListen = "127.0.0.1:9000"
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "global: {server_nam: x}", "field server_nam not found"},
		{"wrong type", "global: {metrics: {enabled: maybe}}", "cannot unmarshal"},
		{"bad duration", "global: {database: {conn_max_lifetime: soon}}", "cannot unmarshal"},
		{"duration without unit", "global: {database: {conn_max_lifetime: 300}}", "cannot unmarshal"},
		{"not a mapping", "global: [1, 2]", "cannot unmarshal"},
		{"broken YAML", "global: {", "did not find expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) error = %v, want it to contain %q", tt.yaml, err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error; empty: valid
	}{
		{"defaults", "", nil},
		{"ipv4 server name with port", "global: {server_name: '1.2.3.4:8448'}", nil},
		{"ipv6 server name", "global: {server_name: '[::1]:8448'}", nil},
		{"kafka ok", "global: {event_log: {backend: kafka, kafka: {brokers: ['127.0.0.1:9092']}}}", nil},
		{"bad backend", "global: {event_log: {backend: rabbit}}",
			[]string{`global.event_log.backend: must be "embedded" or "kafka"`}},
		{"kafka without brokers", "global: {event_log: {backend: kafka}}",
			[]string{"global.event_log.kafka.brokers: must list at least one"}},
		{"bad broker", "global: {event_log: {kafka: {brokers: ['nohost']}}}",
			[]string{"global.event_log.kafka.brokers[0]:"}},
		{"bad partitions and policy", "global: {event_log: {kafka: {partitions: 0, offset_reset_policy: newest}}}",
			[]string{"global.event_log.kafka.partitions: must be at least 1", "global.event_log.kafka.offset_reset_policy:"}},
		{"bad topic prefix", "global: {event_log: {kafka: {topic_prefix: 'a b'}}}",
			[]string{"global.event_log.kafka.topic_prefix:"}},
		{"empty server name", "global: {server_name: ''}", []string{"global.server_name: must not be empty"}},
		{"bad server name", "global: {server_name: 'exa mple.org'}", []string{"global.server_name:"}},
		{"bad server port", "global: {server_name: 'example.org:99999'}", []string{"global.server_name:", "port"}},
		{"ipv4 in brackets", "global: {server_name: '[1.2.3.4]'}", []string{"global.server_name:"}},
		{"bad key id", "global: {key_id: 'rsa:1'}", []string{"global.key_id:"}},
		{"bad log level and format", "global: {logging: {level: loud, format: xml}}",
			[]string{"global.logging.level:", `global.logging.format: must be "text" or "json"`}},
		{"negative pool", "global: {database: {max_open_conns: -1}}", []string{"global.database.max_open_conns:"}},
		{"idle over open", "user_api: {database: {max_open_conns: 2, max_idle_conns: 3}}", []string{"user_api.database.max_idle_conns:"}},
		{"negative lifetime", "global: {event_log: {database: {conn_max_lifetime: -1s}}}", []string{"global.event_log.database.conn_max_lifetime:"}},
		{"short secret", "global: {internal_api_secret: short}", []string{"global.internal_api_secret:"}},
		{"bad sqlite_synchronous", "global: {sqlite_synchronous: off}", []string{"global.sqlite_synchronous:"}},
		{"unknown default room version", "global: {default_room_version: '13'}", []string{`global.default_room_version: must be a known room version (1 to 12), got "13"`}},
		{"empty default room version", "global: {default_room_version: ''}", []string{"global.default_room_version:"}},
		{"default room version 12", "global: {default_room_version: '12'}", nil},
		{"bad internal listen", "room_server: {internal_api_listen: 'nope'}", []string{"room_server.internal_api_listen:"}},
		{"bad internal url", "user_api: {internal_api_url: 'ftp://x'}", []string{"user_api.internal_api_url:"}},
		{"bad public listen", "sync_api: {public_listen: '8072'}", []string{"sync_api.public_listen:"}},
		{"bad monolith bind", "monolith: {http_bind: 'localhost'}", []string{"monolith.http_bind:"}},
		{"empty media path", "media_api: {base_path: ''}", []string{"media_api.base_path:"}},
		{"bad public base url", "client_api: {public_base_url: 'matrix.example.org'}", []string{"client_api.public_base_url:"}},
		{"public base url ok", "client_api: {public_base_url: 'https://matrix.example.org', registration_mode: token}", nil},
		{"bad registration mode", "client_api: {registration_mode: invite}", []string{`client_api.registration_mode: must be "open", "token" or "closed"`}},
		{"open on public bind", "monolith: {http_bind: '0.0.0.0:8008'}",
			[]string{"client_api.registration_mode:", `monolith.http_bind "0.0.0.0:8008" is not loopback`, "allow_open_registration_on_public_listener"}},
		{"open on every interface", "client_api: {public_listen: ':8071'}", []string{`client_api.public_listen ":8071" is not loopback`}},
		{"open on proxy", "client_api_proxy: {listen: '[::]:8008'}", []string{`client_api_proxy.listen "[::]:8008" is not loopback`}},
		{"open behind a reverse proxy", "client_api: {public_base_url: 'https://matrix.example.org'}",
			[]string{`client_api.public_base_url "https://matrix.example.org" is not loopback`}},
		{"open on loopback names", "monolith: {http_bind: 'localhost:8008'}\nclient_api: {public_listen: '[::1]:8071', public_base_url: 'http://127.0.0.1:8008'}", nil},
		{"open on public bind, confirmed", "monolith: {http_bind: '0.0.0.0:8008'}\nclient_api: {allow_open_registration_on_public_listener: true}", nil},
		{"token on public bind", "monolith: {http_bind: '0.0.0.0:8008'}\nclient_api: {registration_mode: token}", nil},
		{"closed on public bind", "monolith: {http_bind: ':8008'}\nclient_api: {registration_mode: closed}", nil},
		{"https bind without certificate", "monolith: {https_bind: '127.0.0.1:8448'}", []string{"monolith.https_bind: needs monolith.tls_cert and monolith.tls_key"}},
		{"bad https bind", "monolith: {https_bind: '8448', tls_cert: c, tls_key: k}", []string{"monolith.https_bind:"}},
		{"https bind ok", "monolith: {https_bind: '127.0.0.1:8448', tls_cert: c, tls_key: k}", nil},
		{"open on public https bind", "monolith: {https_bind: '0.0.0.0:8448', tls_cert: c, tls_key: k}",
			[]string{`monolith.https_bind "0.0.0.0:8448" is not loopback`}},
		{"bad metrics bind", "monolith: {metrics_bind: '9108'}", []string{"monolith.metrics_bind:"}},
		{"no metrics bind", "monolith: {metrics_bind: ''}", nil},
		{"short metrics token", "global: {metrics: {bearer_token: short}}", []string{"global.metrics.bearer_token:"}},
		{"metrics token ok", "global: {metrics: {bearer_token: 0123456789abcdef}}", nil},
		{"bad proxy metrics listen", "client_api_proxy: {metrics_listen: 'x'}", []string{"client_api_proxy.metrics_listen:"}},
		{"bcrypt cost too low", "user_api: {bcrypt_cost: 3}", []string{"user_api.bcrypt_cost:"}},
		{"bcrypt cost too high", "user_api: {bcrypt_cost: 32}", []string{"user_api.bcrypt_cost:"}},
		{"negative replication", "global: {event_log: {kafka: {replication_factor: -1}}}", []string{"global.event_log.kafka.replication_factor:"}},
		{"replication ok", "global: {event_log: {kafka: {replication_factor: 3}}}", nil},
		{"several at once", "global: {server_name: '', logging: {format: xml}}",
			[]string{"global.server_name:", "global.logging.format:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors %q, got none", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "axon.yaml")
	if err := os.WriteFile(path, []byte("global: {server_name: example.org}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Global.ServerName != "example.org" || c.Global.DataDir != DefaultDataDir {
		t.Fatalf("Load: %+v", c.Global)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(empty); err != nil || !reflect.DeepEqual(c, Defaults(DefaultDataDir)) {
		t.Fatalf("empty file: %v, %+v", err, c)
	}
	if c, err := LoadOrDefaults("", dir); err != nil || c.Global.DataDir != dir {
		t.Fatalf("LoadOrDefaults(\"\"): %v, %+v", err, c)
	}
}

func TestLoadOrGenerateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "axon.yaml")
	c, created, err := LoadOrGenerateFile(path, "example.org", dir)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	// The first start gets a fresh shared secret (for axon-create-account); the rest are
	// the defaults.
	if len(c.ClientAPI.RegistrationSharedSecret) < 32 {
		t.Fatalf("generated registration_shared_secret %q", c.ClientAPI.RegistrationSharedSecret)
	}
	want := Defaults(dir)
	want.Global.ServerName = "example.org"
	want.ClientAPI.RegistrationSharedSecret = c.ClientAPI.RegistrationSharedSecret
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("generated file loads as %+v", c)
	}
	// An existing file is loaded, never rewritten.
	if err := os.WriteFile(path, []byte("global: {server_name: edited.org}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, created, err = LoadOrGenerateFile(path, "example.org", dir)
	if err != nil || created || c.Global.ServerName != "edited.org" {
		t.Fatalf("second call: created=%v err=%v server=%q", created, err, c.Global.ServerName)
	}
	// A broken file is an error, not replaced.
	if err := os.WriteFile(path, []byte("global: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrGenerateFile(path, "example.org", dir); err == nil {
		t.Fatal("broken file accepted")
	}
}
