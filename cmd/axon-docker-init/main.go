// Command axon-docker-init prepares a container deployment of Axon (docker/): it writes the
// config file and the signing key when they do not exist yet, and leaves them alone when
// they do, so it runs on every `docker compose up` as a one-shot service before the
// servers start (the images are FROM scratch: no shell for an entrypoint script).
//
//	axon-docker-init -mode polylith -config /etc/axon/axon.yaml
//	axon-docker-init -mode monolith -config /data/axon.yaml
//
// The file is axon-generate-config's commented example with the container settings in
// it (settings.go): every listener on 0.0.0.0 inside the container network, each
// component's internal API URL on its compose service name, Postgres and Kafka for the
// polylith, a new global.internal_api_secret and client_api.registration_shared_secret.
// A few choices come from the environment, read only when the file is first written:
//
//	AXON_SERVER_NAME        global.server_name (default localhost)
//	AXON_PUBLIC_BASE_URL    client_api.public_base_url (default http://localhost:8008)
//	AXON_REGISTRATION_MODE  closed (default), token or open
//	AXON_RATE_LIMITS        true (default) or false
//	AXON_DATABASE           polylith: the Postgres connection string
//	AXON_KAFKA_BROKERS      polylith: comma-separated brokers (default kafka:9092)
//	AXON_TRUSTED_PROXIES    comma-separated addresses or CIDRs (global.trusted_proxies)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/axon-matrix/axon/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run is main with its exit status: 0 done (or nothing to do), 1 failure, 2 bad flags.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("axon-docker-init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "polylith", "polylith (docker-compose.yml) or monolith (monolith.yml)")
	path := fs.String("config", "/etc/axon/axon.yaml", "the config file to write if missing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*mode != "polylith" && *mode != "monolith") {
		fmt.Fprintln(stderr, "axon-docker-init: -mode is polylith or monolith, and there are no arguments")
		return 2
	}
	if err := prepare(*path, *mode, getenv, stderr); err != nil {
		fmt.Fprintf(stderr, "axon-docker-init: %v\n", err)
		return 1
	}
	return 0
}

// prepare writes the config at path when it is missing, then the signing key it names
// when that is missing.
func prepare(path, mode string, getenv func(string) string, log io.Writer) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		s, err := settingsFromEnv(mode, getenv)
		if err != nil {
			return err
		}
		raw := s.generate(filepath.Dir(path))
		c, err := config.Parse(raw)
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			return fmt.Errorf("the generated config is not valid: %w", err)
		}
		if err := writeNew(path, raw); err != nil {
			return err
		}
		fmt.Fprintf(log, "axon-docker-init: wrote %s (%s, server name %s)\n", path, mode, s.serverName)
	} else if err != nil {
		return err
	} else {
		fmt.Fprintf(log, "axon-docker-init: %s exists; using it as it is\n", path)
	}
	c, err := config.Load(path)
	if err != nil {
		return err
	}
	k, created, err := c.LoadOrCreateSigningKey()
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(log, "axon-docker-init: wrote the signing key %s (%s)\n", c.Global.PrivateKeyPath, k.ID)
	}
	return nil
}

// writeNew writes data to a file that must not exist yet (two inits racing: one wins).
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
