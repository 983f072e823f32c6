// Command axon-monolith runs every Axon component in one process (ARCHITECTURE.md §4).
// With no flags and no config it starts on the embedded default: under ./data it creates
// a commented config file (axon.yaml), a signing key, one SQLite file per component and
// the embedded event log, serves the client API on 127.0.0.1:8008 and metrics on
// 127.0.0.1:9108 (loopback only), and logs a few lines that say what it runs on. A config file that names
// Postgres and Kafka moves the tables and topics 1–6 there.
//
//	axon-monolith                       # ./data, 127.0.0.1:8008
//	axon-monolith -data-dir /var/lib/axon -http-bind 127.0.0.1:8008
//	axon-monolith -config axon.yaml
//	axon-monolith -pprof-bind 127.0.0.1:6060   # Go profiles on a separate loopback port
//	axon-monolith -https-bind 0.0.0.0:8448 -tls-cert tls.crt -tls-key tls.key   # federation over TLS
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// options are the command-line flags.
type options struct {
	configPath  string
	dataDir     string
	httpBind    string
	metricsBind string
	pprofBind   string
	httpsBind   string
	tlsCert     string
	tlsKey      string
	// logOutput, when set, receives the log instead of stderr (tests).
	logOutput io.Writer
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("axon-monolith", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.configPath, "config", "", "the config file (default: DATA_DIR/axon.yaml, written with defaults on first start)")
	fs.StringVar(&o.dataDir, "data-dir", "", "where config, signing key, SQLite files and the embedded event log live when no -config names them (default ./data)")
	fs.StringVar(&o.httpBind, "http-bind", "", "address to serve every public route on (overrides monolith.http_bind; default 127.0.0.1:8008, this machine only; 0.0.0.0:8008 opens it)")
	fs.StringVar(&o.metricsBind, "metrics-bind", "", "address to serve /metrics and /health on (overrides monolith.metrics_bind; default 127.0.0.1:9108)")
	fs.StringVar(&o.httpsBind, "https-bind", "", "address to serve every public route on over TLS, for other servers (overrides monolith.https_bind; default: none)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (chain) of -https-bind (overrides monolith.tls_cert)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of -https-bind (overrides monolith.tls_key)")
	fs.StringVar(&o.pprofBind, "pprof-bind", "", "serve net/http/pprof profiles on this address, e.g. 127.0.0.1:6060 (default: off)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, nil
}

func run(args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, err)
		}
		return 2
	}
	m, err := start(o)
	if err != nil {
		fmt.Fprintln(stderr, "axon-monolith:", err)
		return 1
	}
	if err := m.base.RunUntilSignal(); err != nil {
		fmt.Fprintln(stderr, "axon-monolith:", err)
		return 1
	}
	return 0
}
