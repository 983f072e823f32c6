// Package config is the one YAML configuration file every Axon binary reads
// (ARCHITECTURE.md §8): a global section (server name, signing key, default database, the
// event log that carries topics 1–6, metrics, logging, the internal API secret) and one
// section per component (internal API listen address and URL — the transport of arrows
// 2–13 in the polylith —, an optional database override and, for Tier 1 components, a
// public listen address). Every key has a default that runs the monolith from a data
// directory with no file at all (see Defaults).
package config

import (
	"time"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Config is the whole configuration file.
type Config struct {
	Global           Global           `yaml:"global"`
	ClientAPI        ClientAPI        `yaml:"client_api"`
	SyncAPI          SyncAPI          `yaml:"sync_api"`
	FederationAPI    FederationAPI    `yaml:"federation_api"`
	MediaAPI         MediaAPI         `yaml:"media_api"`
	RoomServer       RoomServer       `yaml:"room_server"`
	EDUServer        EDUServer        `yaml:"edu_server"`
	FederationSender FederationSender `yaml:"federation_sender"`
	AppService       AppService       `yaml:"app_service"`
	KeyServer        KeyServer        `yaml:"key_server"`
	ServerKeyAPI     ServerKeyAPI     `yaml:"server_key_api"`
	UserAPI          UserAPI          `yaml:"user_api"`
	Monolith         Monolith         `yaml:"monolith"`
	ClientAPIProxy   ClientAPIProxy   `yaml:"client_api_proxy"`
}

// Global holds the settings every component shares.
type Global struct {
	// ServerName is the server part of user IDs and room aliases (e.g. "example.org").
	ServerName string `yaml:"server_name"`
	// DataDir is where the defaults put SQLite files, the embedded event log, the signing
	// key and media.
	DataDir string `yaml:"data_dir"`
	// PrivateKeyPath is the Synapse-style signing key file ("ed25519 <id> <base64 seed>").
	PrivateKeyPath string `yaml:"private_key_path"`
	// KeyID, when set, must equal the key file's ID ("ed25519:<id>"); empty takes the file's.
	KeyID string `yaml:"key_id"`
	// Database is used by every component whose own section names no database.
	Database Database `yaml:"database"`
	// EventLog carries the log topics 1–6 between components.
	EventLog EventLog `yaml:"event_log"`
	// Metrics controls the Prometheus /metrics endpoint.
	Metrics Metrics `yaml:"metrics"`
	// Logging controls the log level and format.
	Logging Logging `yaml:"logging"`
	// InternalAPISecret, when set, must be presented by every internal API call (arrows
	// 2–13 over HTTP in the polylith).
	InternalAPISecret string `yaml:"internal_api_secret"`
	// SQLiteSynchronous is "full" (default: an acknowledged write survives power loss) or
	// "normal" (faster; survives a process crash, not an OS crash or power loss) for every
	// SQLite database. Postgres ignores it.
	SQLiteSynchronous string `yaml:"sqlite_synchronous"`
	// DefaultRoomVersion is the room version POST /createRoom makes when the request names
	// none (and /capabilities advertises as the default). Must be a version Axon knows.
	DefaultRoomVersion string `yaml:"default_room_version"`
	// TrustedProxies are the addresses or CIDR prefixes of reverse proxies whose
	// X-Forwarded-For header names the client (internal/ratelimit.ClientIP). Empty: none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// RateLimits are the per-user and per-IP request limits (ratelimits.go).
	RateLimits RateLimits `yaml:"rate_limits"`
}

// Database says how to reach one database and size its connection pool.
type Database struct {
	// ConnectionString is a postgres:// URL / key=value DSN, or file:PATH for SQLite.
	ConnectionString string `yaml:"connection_string"`
	// MaxOpenConns caps open connections (0: sqlutil's default; SQLite always uses one).
	MaxOpenConns int `yaml:"max_open_conns"`
	// MaxIdleConns caps idle connections (0: sqlutil's default).
	MaxIdleConns int `yaml:"max_idle_conns"`
	// ConnMaxLifetime closes connections older than this (0: never), e.g. "5m".
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime"`

	// sqliteSynchronous is global.sqlite_synchronous, set by DatabaseFor.
	sqliteSynchronous string
}

// Options converts d into what sqlutil.Open takes.
func (d Database) Options() sqlutil.Options {
	return sqlutil.Options{
		ConnectionString:  d.ConnectionString,
		MaxOpenConns:      d.MaxOpenConns,
		MaxIdleConns:      d.MaxIdleConns,
		ConnMaxLifetime:   d.ConnMaxLifetime,
		SQLiteSynchronous: d.sqliteSynchronous,
	}
}

// The event log backends.
const (
	EventLogEmbedded = "embedded"
	EventLogKafka    = "kafka"
)

// EventLog chooses and configures the backend of the log topics 1–6 (ARCHITECTURE.md §5).
type EventLog struct {
	// Backend is "embedded" (a durable log in a database) or "kafka".
	Backend string `yaml:"backend"`
	// Database is where the embedded backend keeps the log.
	Database Database `yaml:"database"`
	// Kafka configures the kafka backend; TopicPrefix applies to both backends.
	Kafka Kafka `yaml:"kafka"`
}

// Kafka configures the kafka event log backend.
type Kafka struct {
	// Brokers are host:port addresses of the Kafka cluster.
	Brokers []string `yaml:"brokers"`
	// TopicPrefix is put before every topic name (both backends), so several servers can
	// share one cluster.
	TopicPrefix string `yaml:"topic_prefix"`
	// Partitions is the partition count of topics Axon creates.
	Partitions int `yaml:"partitions"`
	// OffsetResetPolicy is where a consumer group starts when its stored offset no longer
	// exists: "earliest" or "latest".
	OffsetResetPolicy string `yaml:"offset_reset_policy"`
	// ReplicationFactor of the topics Axon creates; 0 takes the broker's
	// default.replication.factor.
	ReplicationFactor int `yaml:"replication_factor"`
}

// Metrics controls the Prometheus endpoint.
type Metrics struct {
	// Enabled serves /metrics.
	Enabled bool `yaml:"enabled"`
	// BearerToken, when set, also serves /metrics on the public listeners to requests that
	// carry "Authorization: Bearer <token>". Empty: never on a public listener (metrics
	// then come from monolith.metrics_bind, client_api_proxy.metrics_listen, the internal
	// listeners or -metrics-bind).
	BearerToken string `yaml:"bearer_token"`
}

// Logging controls logrus.
type Logging struct {
	// Level is a logrus level: trace, debug, info, warn, error, fatal, panic.
	Level string `yaml:"level"`
	// Format is "text" or "json".
	Format string `yaml:"format"`
}

// Component is what every component section has.
type Component struct {
	// InternalAPIListen is where the polylith binary serves the component's internal API.
	InternalAPIListen string `yaml:"internal_api_listen"`
	// InternalAPIURL is where other polylith binaries reach that internal API.
	InternalAPIURL string `yaml:"internal_api_url"`
	// Database overrides global.database for this component.
	Database Database `yaml:"database"`
}

// PublicComponent is a Tier 1 component: it also faces the network.
type PublicComponent struct {
	Component `yaml:",inline"`
	// PublicListen is where the polylith binary serves the public routes.
	PublicListen string `yaml:"public_listen"`
}

// ClientAPI configures the clientapi (Tier 1).
type ClientAPI struct {
	PublicComponent `yaml:",inline"`
	// PublicBaseURL is the client API's public base URL, advertised in
	// /.well-known/matrix/client and the login response. Empty: the monolith advertises
	// http://localhost:<port of monolith.http_bind>.
	PublicBaseURL string `yaml:"public_base_url"`
	// RegistrationMode says who may create an account with POST /register: "open"
	// (anyone), "token" (with a registration token an admin made, m.login.registration_token)
	// or "closed" (nobody; shared-secret registration still works).
	RegistrationMode string `yaml:"registration_mode"`
	// AllowOpenRegistrationOnPublicListener must be true for registration_mode "open" when
	// a listener that serves /register (or public_base_url) is not on loopback.
	AllowOpenRegistrationOnPublicListener bool `yaml:"allow_open_registration_on_public_listener"`
	// GuestAccess allows guest registration (kind=guest).
	GuestAccess bool `yaml:"guest_access"`
	// RegistrationSharedSecret enables Synapse's shared-secret registration at
	// /_synapse/admin/v1/register (for register_new_matrix_user and similar tools).
	RegistrationSharedSecret string `yaml:"registration_shared_secret"`
}

// SyncAPI configures the syncapi (Tier 1).
type SyncAPI struct {
	PublicComponent `yaml:",inline"`
	// ReadYourWritesTimeout bounds how long a read waits for this instance to catch up
	// with the writes it must reflect (a client's own writes; a room's acknowledged ones),
	// and with tokens and events served by another instance; then it answers with what the
	// instance has.
	ReadYourWritesTimeout time.Duration `yaml:"read_your_writes_timeout"`
	// UnreadCounts computes each joined room's unread notification counts from the
	// users' push rules and read receipts (/sync's unread_notifications, sync v3's
	// notification_count and highlight_count).
	UnreadCounts bool `yaml:"unread_counts"`
	// V3 bounds the sync v3 sessions of POST /sync (docs/sync-v3.md).
	V3 SyncV3 `yaml:"v3"`
}

// SyncV3 bounds the sync v3 sessions each sync instance keeps.
type SyncV3 struct {
	// SessionIdleTimeout expires a session not used for this long.
	SessionIdleTimeout time.Duration `yaml:"session_idle_timeout"`
	// MaxSessionsPerDevice: a device's new session evicts its oldest-idle one beyond this.
	MaxSessionsPerDevice int `yaml:"max_sessions_per_device"`
	// MaxSessions: a new session evicts the instance's oldest-idle one beyond this.
	MaxSessions int `yaml:"max_sessions"`
}

// FederationAPI configures the federationapi (Tier 1).
type FederationAPI struct {
	PublicComponent `yaml:",inline"`
	// AllowPrivateDestinations lets outbound federation requests (key fetches today)
	// reach private, loopback and link-local addresses. False (the default) refuses them
	// after DNS, so a crafted server name cannot reach the internal network; test
	// networks on one machine set it (federation.go).
	AllowPrivateDestinations bool `yaml:"allow_private_destinations"`
	// DisableTLSValidation skips the verification of other servers' TLS certificates on
	// outbound federation and key requests. False (the default) verifies them against the
	// system roots; test networks with self-signed certificates set it (federation.go).
	DisableTLSValidation bool `yaml:"disable_tls_validation"`
}

// MediaAPI configures the mediaapi (Tier 1).
type MediaAPI struct {
	PublicComponent `yaml:",inline"`
	// BasePath is the directory uploaded and cached media files are stored in.
	BasePath string `yaml:"base_path"`
	// The upload limits and the legacy freeze (media.go).
	MediaLimits `yaml:",inline"`
}

// RoomServer configures the roomserver (Tier 2).
type RoomServer struct {
	Component `yaml:",inline"`
}

// EDUServer configures the eduserver (Tier 2).
type EDUServer struct {
	Component `yaml:",inline"`
	// PresenceEnabled turns presence on (default). Off: PUT /presence is accepted and
	// ignored, GET answers "offline" for everyone, /sync carries no presence and no
	// presence goes to or is taken from other servers (as Synapse's presence.enabled: false).
	PresenceEnabled bool `yaml:"presence_enabled"`
	// PresenceIdleTimeout is how long a user who is online or unavailable stays so without
	// a /sync or a presence update before they go offline (at least 1m).
	PresenceIdleTimeout time.Duration `yaml:"presence_idle_timeout"`
}

// FederationSender configures the federationsender (Tier 2).
type FederationSender struct {
	Component `yaml:",inline"`
}

// AppService configures the appservice component (Tier 2).
type AppService struct {
	Component `yaml:",inline"`
	// ConfigFiles are the application services' registration files (YAML, the spec's
	// Registration), read and checked at start by the appservice component and the
	// clientapi (appservice.go). Empty (the default): no application services.
	ConfigFiles []string `yaml:"config_files"`
}

// KeyServer configures the keyserver (Tier 2).
type KeyServer struct {
	Component `yaml:",inline"`
}

// ServerKeyAPI configures the serverkeyapi (Tier 2).
type ServerKeyAPI struct {
	Component `yaml:",inline"`
	// KeyValidityPeriod is how long this server's published keys are valid
	// (valid_until_ts = now + KeyValidityPeriod).
	KeyValidityPeriod time.Duration `yaml:"key_validity_period"`
	// Notaries are asked for other servers' keys after the servers themselves, each with
	// its keys pinned (federation.go). Empty: direct fetches only.
	Notaries []Notary `yaml:"notaries"`
	// OldSigningKeys are keys this server used before, published as old_verify_keys
	// besides those the serverkeyapi recorded itself when the signing key changed.
	OldSigningKeys []OldSigningKey `yaml:"old_signing_keys"`
}

// UserAPI configures the userapi (Tier 2).
type UserAPI struct {
	Component `yaml:",inline"`
	// BcryptCost is the bcrypt work factor of new password hashes (4–31).
	BcryptCost int `yaml:"bcrypt_cost"`
}

// Monolith configures the axon-monolith binary.
type Monolith struct {
	// HTTPBind is the address the monolith serves every public route on.
	HTTPBind string `yaml:"http_bind"`
	// MetricsBind is where the monolith serves /metrics and /health on a listener of their
	// own (when global.metrics.enabled); empty: no such listener.
	MetricsBind string `yaml:"metrics_bind"`
	// HTTPSBind, when set, is a second listener serving every public route (federation,
	// keys, client, media) over TLS with TLSCert and TLSKey: other servers reach the
	// monolith there. Empty: no TLS listener.
	HTTPSBind string `yaml:"https_bind"`
	// TLSCert and TLSKey are the PEM certificate (chain) and private key of HTTPSBind.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
}

// The registration modes of client_api.registration_mode.
const (
	RegistrationOpen   = "open"
	RegistrationToken  = "token"
	RegistrationClosed = "closed"
)
