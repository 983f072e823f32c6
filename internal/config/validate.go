package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/signing"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Validate checks every key and returns all problems at once, each naming the bad key by
// its YAML path, e.g. `global.event_log.backend: must be "embedded" or "kafka"`.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...)))
	}
	g := &c.Global
	if g.ServerName == "" {
		bad("global.server_name", "must not be empty")
	} else if err := checkServerName(g.ServerName); err != nil {
		bad("global.server_name", "%v", err)
	}
	if g.DataDir == "" {
		bad("global.data_dir", "must not be empty")
	}
	if g.PrivateKeyPath == "" {
		bad("global.private_key_path", "must not be empty")
	}
	if g.KeyID != "" {
		if err := signing.KeyID(g.KeyID).Validate(); err != nil {
			bad("global.key_id", `must look like "ed25519:<letters, digits, _>": %v`, err)
		}
	}
	checkDatabase("global.database", g.Database, bad)

	el := &g.EventLog
	switch el.Backend {
	case EventLogEmbedded, EventLogKafka:
	default:
		bad("global.event_log.backend", `must be "embedded" or "kafka", got %q`, el.Backend)
	}
	checkDatabase("global.event_log.database", el.Database, bad)
	if v3 := c.SyncAPI.V3; v3.SessionIdleTimeout < time.Minute {
		bad("sync_api.v3.session_idle_timeout", "must be at least 1m, got %s", v3.SessionIdleTimeout)
	}
	if v3 := c.SyncAPI.V3; v3.MaxSessionsPerDevice < 1 || v3.MaxSessions < 1 {
		bad("sync_api.v3", "max_sessions_per_device and max_sessions must be at least 1, got %d and %d", v3.MaxSessionsPerDevice, v3.MaxSessions)
	}
	if c.EDUServer.PresenceIdleTimeout < time.Minute {
		bad("edu_server.presence_idle_timeout", "must be at least 1m, got %s", c.EDUServer.PresenceIdleTimeout)
	}
	if el.Backend == EventLogKafka && len(el.Kafka.Brokers) == 0 {
		bad("global.event_log.kafka.brokers", `must list at least one host:port when backend is "kafka"`)
	}
	for i, b := range el.Kafka.Brokers {
		if err := checkHostPort(b, true); err != nil {
			bad(fmt.Sprintf("global.event_log.kafka.brokers[%d]", i), "%v", err)
		}
	}
	if !topicPrefixRE.MatchString(el.Kafka.TopicPrefix) {
		bad("global.event_log.kafka.topic_prefix", "may only hold letters, digits, '.', '_' and '-' (at most 200), got %q", el.Kafka.TopicPrefix)
	}
	if el.Kafka.Partitions < 1 {
		bad("global.event_log.kafka.partitions", "must be at least 1, got %d", el.Kafka.Partitions)
	}
	switch el.Kafka.OffsetResetPolicy {
	case "earliest", "latest":
	default:
		bad("global.event_log.kafka.offset_reset_policy", `must be "earliest" or "latest", got %q`, el.Kafka.OffsetResetPolicy)
	}

	switch strings.ToLower(g.Logging.Level) {
	case "trace", "debug", "info", "warn", "warning", "error", "fatal", "panic":
	default:
		bad("global.logging.level", "must be one of trace, debug, info, warn, error, fatal, panic, got %q", g.Logging.Level)
	}
	switch g.Logging.Format {
	case "text", "json":
	default:
		bad("global.logging.format", `must be "text" or "json", got %q`, g.Logging.Format)
	}
	if g.InternalAPISecret != "" && len(g.InternalAPISecret) < 16 {
		bad("global.internal_api_secret", "must be empty (no check) or at least 16 characters long")
	}
	switch g.SQLiteSynchronous {
	case sqlutil.SQLiteSyncFull, sqlutil.SQLiteSyncNormal:
	default:
		bad("global.sqlite_synchronous", `must be "full" or "normal", got %q`, g.SQLiteSynchronous)
	}
	if _, err := matrix.GetRoomVersion(matrix.RoomVersionID(g.DefaultRoomVersion)); err != nil {
		bad("global.default_room_version", "must be a known room version (1 to 12), got %q", g.DefaultRoomVersion)
	}

	for _, s := range c.sections() {
		if err := checkHostPort(s.comp.InternalAPIListen, false); err != nil {
			bad(s.yamlKey+".internal_api_listen", "%v", err)
		}
		if err := checkHTTPURL(s.comp.InternalAPIURL); err != nil {
			bad(s.yamlKey+".internal_api_url", "%v", err)
		}
		checkDatabase(s.yamlKey+".database", s.comp.Database, bad)
		if s.public != nil {
			if err := checkHostPort(*s.public, false); err != nil {
				bad(s.yamlKey+".public_listen", "%v", err)
			}
		}
	}
	if c.UserAPI.BcryptCost < 4 || c.UserAPI.BcryptCost > 31 {
		bad("user_api.bcrypt_cost", "must be 4-31, got %d", c.UserAPI.BcryptCost)
	}
	if el.Kafka.ReplicationFactor < 0 || el.Kafka.ReplicationFactor > 32767 {
		bad("global.event_log.kafka.replication_factor", "must be 0 (the broker's default) or a positive count, got %d", el.Kafka.ReplicationFactor)
	}
	if c.MediaAPI.BasePath == "" {
		bad("media_api.base_path", "must not be empty")
	}
	if u := c.ClientAPI.PublicBaseURL; u != "" {
		if err := checkHTTPURL(u); err != nil {
			bad("client_api.public_base_url", "%v", err)
		}
	}
	if err := checkHostPort(c.Monolith.HTTPBind, false); err != nil {
		bad("monolith.http_bind", "%v", err)
	}
	if c.Monolith.HTTPSBind != "" {
		if err := checkHostPort(c.Monolith.HTTPSBind, false); err != nil {
			bad("monolith.https_bind", "%v", err)
		}
		if c.Monolith.TLSCert == "" || c.Monolith.TLSKey == "" {
			bad("monolith.https_bind", "needs monolith.tls_cert and monolith.tls_key")
		}
	}
	if c.Monolith.MetricsBind != "" {
		if err := checkHostPort(c.Monolith.MetricsBind, false); err != nil {
			bad("monolith.metrics_bind", "%v", err)
		}
	}
	if t := g.Metrics.BearerToken; t != "" && (len(t) < 16 || strings.TrimSpace(t) != t) {
		bad("global.metrics.bearer_token", "must be empty (metrics never on public listeners) or at least 16 characters without surrounding spaces")
	}
	c.validateRegistration(bad)
	c.ClientAPIProxy.validate(bad)
	g.validateRateLimits(bad)
	c.validateFederation(bad) // federation.go
	c.validateMedia(bad)      // media.go
	return errors.Join(errs...)
}

var (
	topicPrefixRE = regexp.MustCompile(`^[A-Za-z0-9._-]{0,200}$`)
	dnsNameRE     = regexp.MustCompile(`^[A-Za-z0-9.-]{1,255}$`)
)

func checkDatabase(path string, d Database, bad func(path, format string, a ...any)) {
	if d.MaxOpenConns < 0 {
		bad(path+".max_open_conns", "must not be negative, got %d", d.MaxOpenConns)
	}
	if d.MaxIdleConns < 0 {
		bad(path+".max_idle_conns", "must not be negative, got %d", d.MaxIdleConns)
	}
	if d.MaxOpenConns > 0 && d.MaxIdleConns > d.MaxOpenConns {
		bad(path+".max_idle_conns", "must not exceed max_open_conns (%d), got %d", d.MaxOpenConns, d.MaxIdleConns)
	}
	if d.ConnMaxLifetime < 0 {
		bad(path+".conn_max_lifetime", "must not be negative, got %s", d.ConnMaxLifetime)
	}
	cs := strings.TrimSpace(d.ConnectionString)
	if cs != d.ConnectionString {
		bad(path+".connection_string", "must not start or end with spaces")
	} else if strings.HasPrefix(cs, "postgres://") || strings.HasPrefix(cs, "postgresql://") {
		if _, err := url.Parse(cs); err != nil {
			bad(path+".connection_string", "is not a valid postgres URL")
		}
	} else if p := strings.TrimPrefix(strings.TrimPrefix(cs, "sqlite:"), "file:"); cs != "" && p == "" {
		bad(path+".connection_string", "names no SQLite file")
	}
}

// checkServerName checks the spec's server name grammar (appendices, "Server Name"):
// hostname [ ":" port ], where hostname is an IPv4 literal, a bracketed IPv6 literal or a
// DNS name.
func checkServerName(s string) error {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return fmt.Errorf("%q: unclosed '[' of an IPv6 literal", s)
		}
		host, port = s[1:end], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return fmt.Errorf("%q: junk after the IPv6 literal", s)
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return fmt.Errorf("%q: not an IPv6 literal", s)
		}
	} else {
		if i := strings.LastIndex(s, ":"); i >= 0 {
			host, port = s[:i], s[i+1:]
		}
		if !dnsNameRE.MatchString(host) {
			return fmt.Errorf("%q: hostname may only hold letters, digits, '.' and '-'", s)
		}
	}
	if port != "" || strings.HasSuffix(s, ":") {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port must be 1-65535", s)
		}
	}
	return nil
}

// checkHostPort checks a listen address (":8008", "127.0.0.1:7771") or, when needHost, a
// host:port to connect to.
func checkHostPort(s string, needHost bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if needHost && host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be 0-65535", s)
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return nil
}
