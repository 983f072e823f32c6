package config

import (
	"path/filepath"
)

// Component names, as passed to DatabaseFor and setup.NewBase. Each is also the base name of
// the component's default SQLite file (DataDir/<name>.db).
const (
	ComponentClientAPI        = "clientapi"
	ComponentSyncAPI          = "syncapi"
	ComponentFederationAPI    = "federationapi"
	ComponentMediaAPI         = "mediaapi"
	ComponentRoomServer       = "roomserver"
	ComponentEDUServer        = "eduserver"
	ComponentFederationSender = "federationsender"
	ComponentAppService       = "appservice"
	ComponentKeyServer        = "keyserver"
	ComponentServerKeyAPI     = "serverkeyapi"
	ComponentUserAPI          = "userapi"
	// ComponentEventLog is the embedded event log's database (global.event_log.database).
	ComponentEventLog = "eventlog"
	// ComponentMonolith names the monolith process (for logs and metrics; it has no database).
	ComponentMonolith = "monolith"
)

// section is one component section of the file, for code that treats them all alike.
type section struct {
	name      string     // component name, e.g. "userapi"
	yamlKey   string     // section key, e.g. "user_api"
	comp      *Component // the common settings
	public    *string    // public_listen for Tier 1, nil for Tier 2
	port      int        // default internal API port
	publicPrt int        // default public port (Tier 1)
}

func (c *Config) sections() []section {
	return []section{
		{ComponentClientAPI, "client_api", &c.ClientAPI.Component, &c.ClientAPI.PublicListen, 7771, 8071},
		{ComponentSyncAPI, "sync_api", &c.SyncAPI.Component, &c.SyncAPI.PublicListen, 7772, 8072},
		{ComponentFederationAPI, "federation_api", &c.FederationAPI.Component, &c.FederationAPI.PublicListen, 7773, 8073},
		{ComponentMediaAPI, "media_api", &c.MediaAPI.Component, &c.MediaAPI.PublicListen, 7774, 8074},
		{ComponentRoomServer, "room_server", &c.RoomServer.Component, nil, 7775, 0},
		{ComponentEDUServer, "edu_server", &c.EDUServer.Component, nil, 7776, 0},
		{ComponentFederationSender, "federation_sender", &c.FederationSender.Component, nil, 7777, 0},
		{ComponentAppService, "app_service", &c.AppService.Component, nil, 7778, 0},
		{ComponentKeyServer, "key_server", &c.KeyServer.Component, nil, 7779, 0},
		{ComponentServerKeyAPI, "server_key_api", &c.ServerKeyAPI.Component, nil, 7780, 0},
		{ComponentUserAPI, "user_api", &c.UserAPI.Component, nil, 7781, 0},
	}
}

// ComponentNames lists every component that has a section, in file order.
func ComponentNames() []string {
	var c Config
	var out []string
	for _, s := range c.sections() {
		out = append(out, s.name)
	}
	return out
}

// ComponentSection returns the common settings of the named component, or nil if there is
// no such component.
func (c *Config) ComponentSection(component string) *Component {
	for _, s := range c.sections() {
		if s.name == component {
			return s.comp
		}
	}
	return nil
}

// DatabaseFor returns the database the named component (or ComponentEventLog) should open:
// its own section's database when that names a connection string, otherwise
// global.database, otherwise a SQLite file DataDir/<component>.db. Pool settings the chosen
// database leaves at zero are taken from global.database.
func (c *Config) DatabaseFor(component string) Database {
	var own Database
	if component == ComponentEventLog {
		own = c.Global.EventLog.Database
	} else if s := c.ComponentSection(component); s != nil {
		own = s.Database
	}
	g := c.Global.Database
	d := own
	if d.ConnectionString == "" {
		d.ConnectionString = g.ConnectionString
	}
	if d.ConnectionString == "" {
		d.ConnectionString = sqliteFile(c.Global.DataDir, component)
	}
	if d.MaxOpenConns == 0 {
		d.MaxOpenConns = g.MaxOpenConns
	}
	if d.MaxIdleConns == 0 {
		d.MaxIdleConns = g.MaxIdleConns
	}
	if d.ConnMaxLifetime == 0 {
		d.ConnMaxLifetime = g.ConnMaxLifetime
	}
	d.sqliteSynchronous = c.Global.SQLiteSynchronous
	return d
}

// TopicName returns the full name of a log topic (one of eventlog's Topic* constants):
// base with global.event_log.kafka.topic_prefix before it. Both backends use it.
func (c *Config) TopicName(base string) string {
	return c.Global.EventLog.Kafka.TopicPrefix + base
}

func sqliteFile(dataDir, component string) string {
	return "file:" + filepath.Join(dataDir, component+".db")
}
