package config

import (
	"bytes"
	"strconv"
	"text/template"
)

// Generate returns a fully commented example configuration for serverName whose files live
// under dataDir. Every key is present with its default, so loading the result gives
// Defaults(dataDir) with the server name set and what opts change (e.g.
// WithRegistrationSharedSecret).
func Generate(serverName, dataDir string, opts ...GenerateOption) []byte {
	c := Defaults(dataDir)
	if serverName != "" {
		c.Global.ServerName = serverName
	}
	for _, o := range opts {
		o(c) // secrets.go
	}
	type sec struct {
		Key, Name, Listen, URL, Public, Tier string
		HasPublic                            bool
		BasePath                             string
		Extra                                string // federation.go
	}
	var secs []sec
	for _, s := range c.sections() {
		x := sec{Key: s.yamlKey, Name: s.name, Listen: s.comp.InternalAPIListen, URL: s.comp.InternalAPIURL, Tier: "2"}
		if s.public != nil {
			x.HasPublic, x.Public, x.Tier = true, *s.public, "1"
		}
		if s.name == ComponentMediaAPI {
			x.BasePath = c.MediaAPI.BasePath
		}
		x.Extra = generateFederation(c, s.name) + generateMedia(c, s.name) + generateAppService(c, s.name)
		secs = append(secs, x)
	}
	var buf bytes.Buffer
	if err := generateTmpl.Execute(&buf, map[string]any{"C": c, "Sections": secs, "RateLimits": generateRateLimits(c)}); err != nil {
		panic("config: example template: " + err.Error()) // the template is fixed: a bug, not input
	}
	buf.Write(generateClientAPIProxy(c))
	return buf.Bytes()
}

var generateTmpl = template.Must(template.New("config").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(`# Axon configuration. One file serves every binary: the monolith and each polylith
# component read the same file. Every key below shows its default; delete what you do not
# change. Reference: docs/config.md.

global:
  # The server part of user IDs and room aliases (@alice:SERVER_NAME). Cannot be changed
  # once users and rooms exist.
  server_name: {{q .C.Global.ServerName}}

  # Where the defaults keep SQLite files, the embedded event log, the signing key and media.
  data_dir: {{q .C.Global.DataDir}}

  # The ed25519 signing key, in Synapse's format ("ed25519 <version> <base64 seed>").
  # Create one with axon-generate-keys; the monolith creates it on first start.
  private_key_path: {{q .C.Global.PrivateKeyPath}}

  # If set, must equal the key file's ID ("ed25519:<version>"). Empty: take the file's.
  key_id: {{q .C.Global.KeyID}}

  # The default database of every component whose own section names none. Empty
  # connection_string: one SQLite file per component, DATA_DIR/<component>.db.
  # Postgres: "postgres://user:pass@host:5432/axon?sslmode=disable".
  database:
    connection_string: {{q .C.Global.Database.ConnectionString}}
    # Pool limits (SQLite always uses one connection).
    max_open_conns: {{.C.Global.Database.MaxOpenConns}}
    max_idle_conns: {{.C.Global.Database.MaxIdleConns}}
    # Close connections older than this (Go duration, e.g. "5m"; 0 = never).
    conn_max_lifetime: {{.C.Global.Database.ConnMaxLifetime}}

  # The log that carries topics 1-6 between components (ARCHITECTURE.md section 5).
  event_log:
    # "embedded": a durable log in a database (monolith, single machine).
    # "kafka": a Kafka cluster (polylith).
    backend: {{q .C.Global.EventLog.Backend}}
    # Where the embedded backend keeps the log. Empty connection_string:
    # global.database, or DATA_DIR/eventlog.db when that is empty too.
    database:
      connection_string: {{q .C.Global.EventLog.Database.ConnectionString}}
      max_open_conns: {{.C.Global.EventLog.Database.MaxOpenConns}}
      max_idle_conns: {{.C.Global.EventLog.Database.MaxIdleConns}}
      conn_max_lifetime: {{.C.Global.EventLog.Database.ConnMaxLifetime}}
    kafka:
      # host:port of the brokers (needed when backend is "kafka").
      brokers:{{if not .C.Global.EventLog.Kafka.Brokers}} []{{end}}{{range .C.Global.EventLog.Kafka.Brokers}}
        - {{q .}}{{end}}
      # Put before every topic name, with either backend.
      topic_prefix: {{q .C.Global.EventLog.Kafka.TopicPrefix}}
      # Partitions of the topics Axon creates (messages are keyed by room ID).
      partitions: {{.C.Global.EventLog.Kafka.Partitions}}
      # Where a consumer group starts when its stored offset no longer exists:
      # "earliest" or "latest".
      offset_reset_policy: {{q .C.Global.EventLog.Kafka.OffsetResetPolicy}}
      # Replication factor of the topics Axon creates; 0: the broker's default.
      replication_factor: {{.C.Global.EventLog.Kafka.ReplicationFactor}}

  metrics:
    # Serve Prometheus metrics on /metrics: on monolith.metrics_bind,
    # client_api_proxy.metrics_listen and the polylith's internal listeners, never on a
    # public listener unless bearer_token is set.
    enabled: {{.C.Global.Metrics.Enabled}}
    # If set (16 characters or more), public listeners also serve /metrics to requests
    # with "Authorization: Bearer <bearer_token>". Empty: not on public listeners.
    bearer_token: {{q .C.Global.Metrics.BearerToken}}

  logging:
    # trace, debug, info, warn, error, fatal or panic.
    level: {{q .C.Global.Logging.Level}}
    # "text" or "json".
    format: {{q .C.Global.Logging.Format}}

  # If set (16 characters or more), every internal API call between polylith binaries
  # must carry it. Empty: internal APIs are unauthenticated; keep them off public networks.
  internal_api_secret: {{q .C.Global.InternalAPISecret}}

  # SQLite databases: "full" fsyncs every commit, so an acknowledged write survives power
  # loss; "normal" is faster but can lose the last commits on an OS crash or power loss.
  sqlite_synchronous: {{q .C.Global.SQLiteSynchronous}}

  # The room version /createRoom makes when the client names none ("1" to "12"); every
  # known version can still be asked for. Before 12 the creator is listed in
  # m.room.power_levels like any other user, which is what most clients expect.
  default_room_version: {{q .C.Global.DefaultRoomVersion}}
{{.RateLimits}}
# One section per component. In the polylith each binary serves its internal API on
# internal_api_listen and the others reach it at internal_api_url; Tier 1 binaries also
# serve their public routes on public_listen. The monolith uses none of these addresses.
# database overrides global.database for that component.
{{range .Sections}}
{{.Key}}:  # {{.Name}}, Tier {{.Tier}}
  internal_api_listen: {{q .Listen}}
  internal_api_url: {{q .URL}}
{{- if .HasPublic}}
  public_listen: {{q .Public}}
{{- end}}
{{- if .BasePath}}
  # Directory of uploaded and cached remote media.
  base_path: {{q .BasePath}}
{{- end}}
{{- if eq .Name "clientapi"}}
  # Public base URL of the client API, for /.well-known/matrix/client and login
  # responses (e.g. "https://matrix.example.org"). Empty: the monolith advertises
  # http://localhost:<port of monolith.http_bind>.
  public_base_url: {{q $.C.ClientAPI.PublicBaseURL}}
  # Who may create an account with POST /register: "open" (anyone), "token" (only with
  # a registration token an admin creates: POST /_synapse/admin/v1/registration_tokens/new)
  # or "closed" (nobody; registration_shared_secret and axon-create-account still work).
  registration_mode: {{q $.C.ClientAPI.RegistrationMode}}
  # "open" is refused while a listener serving /register (or public_base_url) is not on
  # loopback, unless this is true: say so only if anyone on the network may sign up.
  allow_open_registration_on_public_listener: {{$.C.ClientAPI.AllowOpenRegistrationOnPublicListener}}
  # Allow guest accounts (POST /register?kind=guest).
  guest_access: {{$.C.ClientAPI.GuestAccess}}
  # Enables /_synapse/admin/v1/register (Synapse's shared-secret registration, used by
  # register_new_matrix_user). Empty: disabled. Keep it secret.
  registration_shared_secret: {{q $.C.ClientAPI.RegistrationSharedSecret}}
{{- end}}
{{- if eq .Name "syncapi"}}
  # How long a read (/sync, /messages, /event, ...) waits for this instance to catch up
  # with the writes it must reflect — the client's own, and those already acknowledged in
  # the room it reads — before it answers with what it has (counted in
  # axon_syncapi_read_your_writes_give_ups_total).
  read_your_writes_timeout: {{$.C.SyncAPI.ReadYourWritesTimeout}}
  # Count each joined room's unread notifications (the users' push rules applied to the
  # events after their read receipt, at most the newest 1000): /sync's
  # unread_notifications, sync v3's notification_count and highlight_count.
  unread_counts: {{$.C.SyncAPI.UnreadCounts}}
  # Sync v3 (POST /sync, docs/sync-v3.md): sessions are stored per instance and expire
  # after this long unused; a device's new session beyond max_sessions_per_device evicts
  # its oldest-idle one, a new session beyond max_sessions the instance's oldest-idle one.
  v3:
    session_idle_timeout: {{$.C.SyncAPI.V3.SessionIdleTimeout}}
    max_sessions_per_device: {{$.C.SyncAPI.V3.MaxSessionsPerDevice}}
    max_sessions: {{$.C.SyncAPI.V3.MaxSessions}}
{{- end}}
{{- if eq .Name "eduserver"}}
  # Presence (online/unavailable/offline and status messages). false: PUT /presence is
  # accepted and ignored, GET says "offline", /sync and federation carry no presence.
  presence_enabled: {{$.C.EDUServer.PresenceEnabled}}
  # A user online or unavailable without a /sync or presence update for this long goes
  # offline (at least 1m).
  presence_idle_timeout: {{$.C.EDUServer.PresenceIdleTimeout}}
{{- end}}
{{- if .Extra}}{{.Extra}}{{end}}
{{- if eq .Name "userapi"}}
  # bcrypt work factor of new password hashes (4-31).
  bcrypt_cost: {{$.C.UserAPI.BcryptCost}}
{{- end}}
  database:
    connection_string: ""
    max_open_conns: 0
    max_idle_conns: 0
    conn_max_lifetime: 0s
{{end}}
monolith:
  # Where the monolith serves every public route (client, federation, media). Loopback
  # by default: "0.0.0.0:8008" or ":8008" opens it to other machines.
  http_bind: {{q .C.Monolith.HTTPBind}}
  # Where the monolith serves /metrics and /health for Prometheus; empty: nowhere apart.
  metrics_bind: {{q .C.Monolith.MetricsBind}}
  # Where the monolith serves every public route again over TLS, for other servers
  # (federation and keys) and clients; empty: no TLS listener. Flag -https-bind.
  https_bind: {{q .C.Monolith.HTTPSBind}}
  # The PEM certificate (chain) and private key of https_bind (flags -tls-cert, -tls-key).
  tls_cert: {{q .C.Monolith.TLSCert}}
  tls_key: {{q .C.Monolith.TLSKey}}
`))
