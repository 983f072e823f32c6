package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/matrix"
)

// DefaultDataDir is where the monolith keeps its files when nothing says otherwise.
const DefaultDataDir = "./data"

// Default listen addresses of the monolith: loopback only, so nothing is reachable from
// other machines until the operator says so.
const (
	DefaultHTTPBind    = "127.0.0.1:8008"
	DefaultMetricsBind = "127.0.0.1:9108"
)

// Defaults returns the configuration that runs the monolith with no file at all: server
// name "localhost", the embedded event log in dataDir/eventlog.db, one SQLite file per
// component under dataDir (dataDir/userapi.db, …), the signing key at dataDir/signing.key,
// media under dataDir/media, and every listener on loopback: the client API on
// 127.0.0.1:8008, metrics on 127.0.0.1:9108, the polylith's ports on 127.0.0.1 too. The database connection strings
// stay empty: DatabaseFor derives the SQLite files, so a file that sets only
// global.database moves every component (and the embedded event log) there.
func Defaults(dataDir string) *Config {
	if dataDir == "" {
		dataDir = DefaultDataDir
	}
	c := &Config{
		Global: Global{
			ServerName:     "localhost",
			DataDir:        dataDir,
			PrivateKeyPath: filepath.Join(dataDir, "signing.key"),
			Database: Database{
				MaxOpenConns: 10,
				MaxIdleConns: 10,
			},
			EventLog: EventLog{
				Backend: EventLogEmbedded,
				Kafka: Kafka{
					TopicPrefix:       "axon.",
					Partitions:        8,
					OffsetResetPolicy: "earliest",
				},
			},
			Metrics:           Metrics{Enabled: true},
			Logging:           Logging{Level: "info", Format: "text"},
			SQLiteSynchronous: sqlutil.SQLiteSyncFull,
		},
		Monolith: Monolith{HTTPBind: DefaultHTTPBind, MetricsBind: DefaultMetricsBind},
	}
	c.ClientAPI.RegistrationMode = RegistrationOpen
	c.Global.DefaultRoomVersion = string(matrix.DefaultRoomVersion)
	c.MediaAPI.BasePath = filepath.Join(dataDir, "media")
	c.SyncAPI.ReadYourWritesTimeout = 5 * time.Second
	c.SyncAPI.UnreadCounts = true
	c.SyncAPI.V3 = SyncV3{SessionIdleTimeout: 30 * time.Minute, MaxSessionsPerDevice: 10, MaxSessions: 100000}
	c.EDUServer.PresenceEnabled = true
	c.EDUServer.PresenceIdleTimeout = 5 * time.Minute
	c.UserAPI.BcryptCost = 12
	c.ClientAPIProxy = c.defaultClientAPIProxy()
	c.Global.RateLimits = defaultRateLimits()
	c.federationDefaults() // federation.go
	c.mediaDefaults()      // media.go
	// appservice.go: no application services unless listed.
	c.AppService.ConfigFiles = []string{}
	for _, s := range c.sections() {
		s.comp.InternalAPIListen = "127.0.0.1:" + strconv.Itoa(s.port)
		s.comp.InternalAPIURL = "http://localhost:" + strconv.Itoa(s.port)
		if s.public != nil {
			*s.public = "127.0.0.1:" + strconv.Itoa(s.publicPrt)
		}
	}
	return c
}

// Load reads the YAML file at path and merges it over Defaults(global.data_dir of the file,
// or DefaultDataDir). Keys the file does not name keep their defaults; unknown keys are an
// error (a typo never silently does nothing). Load does not call Validate.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// LoadOrDefaults loads path when it is not empty, or returns Defaults(dataDir) otherwise.
func LoadOrDefaults(path, dataDir string) (*Config, error) {
	if path == "" {
		return Defaults(dataDir), nil
	}
	return Load(path)
}

// LoadOrGenerateFile loads the config file at path; if there is none, it first writes the
// commented example Generate(serverName, dataDir) there (creating its directory; with a new
// client_api.registration_shared_secret for axon-create-account), so a
// first start leaves a config file the operator can edit. created says whether it did.
func LoadOrGenerateFile(path, serverName, dataDir string) (c *Config, created bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("config: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case errors.Is(err, os.ErrExist): // another process wrote it first
		case err != nil:
			return nil, false, fmt.Errorf("config: %w", err)
		default:
			// With a fresh shared secret, so axon-create-account works on the first start.
			_, werr := f.Write(Generate(serverName, dataDir, WithRegistrationSharedSecret(NewSecret())))
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(path)
				return nil, false, fmt.Errorf("config: writing %s: %w", path, werr)
			}
			created = true
		}
	}
	c, err = Load(path)
	return c, created, err
}

// Parse is Load for YAML already in memory.
func Parse(raw []byte) (*Config, error) {
	// First pass: what the file itself says, to find data_dir.
	var file Config
	if err := decodeStrict(raw, &file); err != nil {
		return nil, err
	}
	c := Defaults(file.Global.DataDir)
	if err := decodeStrict(raw, c); err != nil {
		return nil, err
	}
	if len(c.Global.EventLog.Kafka.Brokers) == 0 {
		c.Global.EventLog.Kafka.Brokers = nil // "brokers: []" means the same as no key
	}
	c.Global.normalizeRateLimits()
	return c, nil
}

func decodeStrict(raw []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file is all defaults
		}
		return err
	}
	return nil
}
