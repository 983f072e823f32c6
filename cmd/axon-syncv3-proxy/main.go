// Command axon-syncv3-proxy serves sync v3 (docs/sync-v3.md, "The proxy") for accounts on
// any Matrix homeserver: it logs in nothing itself; each client's own access token polls
// the upstream's spec GET /sync, what the streams need is kept in the proxy's database,
// POST /_matrix/client/v3/sync is answered from it and every other request passes through
// to the upstream unchanged. It reads no config file: flags only.
//
//	axon-syncv3-proxy -server https://matrix.example.org
//	axon-syncv3-proxy -server http://127.0.0.1:8008 -db postgres://axon@localhost/syncv3 -http-bind 127.0.0.1:8009
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/syncv3"
	"github.com/axon-matrix/axon/syncv3proxy"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// options are the command-line flags.
type options struct {
	server, db, httpBind string
	idle                 time.Duration
	maxPerDevice         int
	maxSessions          int
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("axon-syncv3-proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.server, "server", "", "base URL of the upstream homeserver (http or https), e.g. https://matrix.example.org (required)")
	fs.StringVar(&o.db, "db", "file:syncv3proxy.db", "the proxy's database: a SQLite file (file:PATH) or postgres://…")
	fs.StringVar(&o.httpBind, "http-bind", "127.0.0.1:8009", "address to serve on (loopback only by default; 0.0.0.0:8009 opens it)")
	fs.DurationVar(&o.idle, "session-idle-timeout", syncv3.DefaultIdleTimeout, "a sync v3 session not used this long expires; a token idle this long stops its upstream poller")
	fs.IntVar(&o.maxPerDevice, "max-sessions-per-device", syncv3.DefaultMaxSessionsPerDevice, "a device's new session beyond this evicts its oldest-idle one")
	fs.IntVar(&o.maxSessions, "max-sessions", 100000, "a new session beyond this evicts the proxy's oldest-idle one (0: no bound)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.server == "" {
		return nil, errors.New("-server is required")
	}
	if _, err := syncv3proxy.ParseUpstream(o.server); err != nil {
		return nil, err
	}
	return o, nil
}

func run(args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "axon-syncv3-proxy:", err)
		}
		return 2
	}
	logrus.SetOutput(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: o.db})
	if err != nil {
		logrus.WithError(err).Error("opening the database")
		return 1
	}
	defer db.Close()
	pollCtx, stopPollers := context.WithCancel(context.Background())
	defer stopPollers()
	srv, err := syncv3proxy.New(pollCtx, db, syncv3proxy.Config{Upstream: o.server,
		Sessions: syncv3.Config{IdleTimeout: o.idle, MaxSessionsPerDevice: o.maxPerDevice, MaxSessions: o.maxSessions}})
	if err != nil {
		logrus.WithError(err).Error("starting")
		return 1
	}
	draining := make(chan struct{})
	srv.Engine.SetDraining(draining)
	go srv.Engine.RunExpiry(pollCtx)
	ln, err := net.Listen("tcp", o.httpBind)
	if err != nil {
		logrus.WithError(err).Error("listening")
		return 1
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	logrus.WithFields(logrus.Fields{"addr": ln.Addr().String(), "upstream": o.server, "db": db.Dialect.String()}).
		Info("axon-syncv3-proxy: serving sync v3")
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		logrus.WithError(err).Error("serving")
		return 1
	case <-ctx.Done():
	}
	close(draining)
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		logrus.WithError(err).Warn("shutting down")
	}
	stopPollers()
	srv.Pollers.Wait()
	return 0
}
