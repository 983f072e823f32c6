package setup

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/axon-matrix/axon/internal/config"
)

// StartupLine is one line a binary logs when it has started (issue 10: start-up says what
// matters in a few lines). Warn lines are logged at warning level.
type StartupLine struct {
	Msg  string
	Warn bool
}

// LogStartup logs lines through the Base's logger.
func (b *Base) LogStartup(lines []StartupLine) {
	for _, l := range lines {
		if l.Warn {
			b.Logger.Warn(l.Msg)
		} else {
			b.Logger.Info(l.Msg)
		}
	}
}

// AbsPath is path made absolute (as given if that fails), for start-up lines that must say
// where the files are whatever the working directory.
func AbsPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// DescribeDatabase says where component's tables are, without credentials: "SQLite file
// /abs/data/userapi.db" or "Postgres db.example.org:5432/axon".
func DescribeDatabase(cfg *config.Config, component string) string {
	return describeConnection(cfg.DatabaseFor(component).ConnectionString)
}

// DescribeDatabases is DescribeDatabase for a process that runs every component: one line
// for the common case of one SQLite file each under the data directory.
func DescribeDatabases(cfg *config.Config) string {
	if cfg.Global.Database.ConnectionString == "" {
		own := false
		for _, c := range config.ComponentNames() {
			if cfg.ComponentSection(c).Database.ConnectionString != "" {
				own = true
			}
		}
		if !own {
			return "SQLite, one file per component in " + AbsPath(cfg.Global.DataDir)
		}
	}
	return describeConnection(cfg.DatabaseFor(config.ComponentUserAPI).ConnectionString) + " (global.database; components may override it)"
}

// DescribeEventLog says which backend carries topics 1-6 and where.
func DescribeEventLog(cfg *config.Config) string {
	el := cfg.Global.EventLog
	if el.Backend == config.EventLogKafka {
		return "Kafka at " + strings.Join(el.Kafka.Brokers, ", ") + fmt.Sprintf(" (topic prefix %q)", el.Kafka.TopicPrefix)
	}
	return "embedded, in " + DescribeDatabase(cfg, config.ComponentEventLog)
}

func describeConnection(cs string) string {
	switch {
	case strings.HasPrefix(cs, "postgres://"), strings.HasPrefix(cs, "postgresql://"):
		u, err := url.Parse(cs)
		if err != nil {
			return "Postgres"
		}
		return "Postgres " + u.Host + u.Path
	case strings.HasPrefix(cs, "file:"), strings.HasPrefix(cs, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(cs, "sqlite:"), "file:")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return "SQLite file " + AbsPath(p)
	}
	// A key=value Postgres DSN: name the host and database only.
	var host, db string
	for _, f := range strings.Fields(cs) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "host":
			host = v
		case "dbname":
			db = v
		}
	}
	return "Postgres " + host + "/" + db
}

// DescribeRegistration says who may register, for a binary that serves POST /register,
// and whether it is a warning (open registration reachable from other machines).
func DescribeRegistration(cfg *config.Config) StartupLine {
	switch cfg.ClientAPI.RegistrationMode {
	case config.RegistrationOpen:
		if pub := cfg.PublicRegistrationListeners(); len(pub) > 0 {
			return StartupLine{Warn: true, Msg: "registration: OPEN to anyone who can reach " + strings.Join(pub, ", ") +
				" (client_api.allow_open_registration_on_public_listener is true); set client_api.registration_mode to token or closed to stop it"}
		}
		return StartupLine{Msg: "registration: open, from this machine only (every listener is loopback)"}
	case config.RegistrationToken:
		return StartupLine{Msg: "registration: with a registration token only (an admin creates them: POST /_synapse/admin/v1/registration_tokens/new)"}
	}
	return StartupLine{Msg: "registration: closed (accounts come from axon-create-account or shared-secret registration)"}
}

// ReadNext is the last start-up line: where the documentation is.
var ReadNext = StartupLine{Msg: "read next: docs/ in the Axon repository: config.md (every key), deployment.md (running it for real)"}
