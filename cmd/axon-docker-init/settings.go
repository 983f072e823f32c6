package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/axon-matrix/axon/internal/config"
)

// service is the compose service name of each component that has one (docker/
// docker-compose.yml); components without a binary yet get the name they will have.
var service = map[string]string{
	config.ComponentClientAPI:        "client-api",
	config.ComponentSyncAPI:          "sync-api",
	config.ComponentFederationAPI:    "federation-api",
	config.ComponentMediaAPI:         "media-api",
	config.ComponentRoomServer:       "roomserver",
	config.ComponentEDUServer:        "edu-server",
	config.ComponentFederationSender: "federation-sender",
	config.ComponentAppService:       "app-service",
	config.ComponentKeyServer:        "key-server",
	config.ComponentServerKeyAPI:     "server-key-api",
	config.ComponentUserAPI:          "user-api",
}

// settings are the choices the environment makes.
type settings struct {
	mode, serverName, publicBaseURL, registration string
	rateLimits                                    bool
	database                                      string
	brokers, trustedProxies                       []string
}

func settingsFromEnv(mode string, getenv func(string) string) (settings, error) {
	or := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	list := func(key, def string) []string {
		var out []string
		for _, s := range strings.Split(or(key, def), ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	s := settings{
		mode:           mode,
		serverName:     or("AXON_SERVER_NAME", "localhost"),
		publicBaseURL:  or("AXON_PUBLIC_BASE_URL", "http://localhost:8008"),
		registration:   or("AXON_REGISTRATION_MODE", config.RegistrationClosed),
		database:       or("AXON_DATABASE", ""),
		brokers:        list("AXON_KAFKA_BROKERS", "kafka:9092"),
		trustedProxies: list("AXON_TRUSTED_PROXIES", ""),
	}
	rl, err := strconv.ParseBool(or("AXON_RATE_LIMITS", "true"))
	if err != nil {
		return s, fmt.Errorf("AXON_RATE_LIMITS: want true or false, got %q", getenv("AXON_RATE_LIMITS"))
	}
	s.rateLimits = rl
	if mode == "polylith" && s.database == "" {
		return s, fmt.Errorf("AXON_DATABASE (the Postgres connection string) is required for the polylith")
	}
	return s, nil
}

// generate is the commented config file for these settings; the polylith's secrets and
// key live in dir (the config volume), the data under /data.
func (s settings) generate(dir string) []byte {
	dataDir := "/data"
	return config.Generate(s.serverName, dataDir,
		config.WithRegistrationSharedSecret(config.NewSecret()),
		func(c *config.Config) { s.apply(c, dir) })
}

// apply sets the container settings on c (a GenerateOption).
func (s settings) apply(c *config.Config, dir string) {
	g := &c.Global
	g.PrivateKeyPath = dir + "/signing.key"
	g.Metrics.Enabled = true
	g.RateLimits.Enabled = s.rateLimits
	g.TrustedProxies = s.trustedProxies
	c.ClientAPI.RegistrationMode = s.registration
	// Every listener is inside the container; only what compose publishes is reachable.
	c.ClientAPI.AllowOpenRegistrationOnPublicListener = s.registration == config.RegistrationOpen
	c.ClientAPI.PublicBaseURL = s.publicBaseURL
	if s.mode == "monolith" {
		c.Monolith.HTTPBind = "0.0.0.0:8008"
		c.Monolith.MetricsBind = "0.0.0.0:9108"
		return
	}
	g.Database.ConnectionString = s.database
	g.EventLog.Backend = config.EventLogKafka
	g.EventLog.Kafka.Brokers = s.brokers
	g.InternalAPISecret = config.NewSecret()
	for _, name := range config.ComponentNames() {
		sec := c.ComponentSection(name)
		port := sec.InternalAPIListen[strings.LastIndex(sec.InternalAPIListen, ":")+1:]
		sec.InternalAPIListen = "0.0.0.0:" + port
		sec.InternalAPIURL = "http://" + service[name] + ":" + port
	}
	c.ClientAPI.PublicListen = "0.0.0.0:8071"
	c.SyncAPI.PublicListen = "0.0.0.0:8072"
	c.FederationAPI.PublicListen = "0.0.0.0:8073"
	c.MediaAPI.PublicListen = "0.0.0.0:8074"
	p := &c.ClientAPIProxy
	p.Listen = "0.0.0.0:8008"
	p.MetricsListen = "0.0.0.0:9108"
	p.ClientAPIURLs = []string{"http://client-api:8071"}
	p.SyncAPIURLs = []string{"http://sync-api:8072"}
	p.FederationAPIURLs = []string{"http://federation-api:8073"}
	p.MediaAPIURLs = []string{"http://media-api:8074"}
	p.HealthCheckInterval = 2 * time.Second
	p.ResolveInterval = 2 * time.Second // replicas of sync-api come and go with --scale
}
