package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// syncBuffer collects the log; request logs are written from other goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestStartupLog: a first start on an empty data directory says what matters (server
// name, absolute data directory, database, event log, client URL, registration, metrics,
// where to read next) and how to create the first admin user; a second start does not
// repeat that hint. /metrics is on its own listener, not on the public port.
func TestStartupLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	abs, _ := filepath.Abs(dir)
	var log syncBuffer
	m, c := startTest(t, &options{dataDir: dir, httpBind: "127.0.0.1:0", logOutput: &log})
	port := m.addr.String()[strings.LastIndex(m.addr.String(), ":")+1:]
	out := log.String()
	for _, want := range []string{
		"axon-monolith started: server name localhost",
		"data directory: " + abs + " (config " + filepath.Join(abs, "axon.yaml") + ")",
		"database: SQLite, one file per component in " + abs,
		"event log: embedded, in SQLite file " + filepath.Join(abs, "eventlog.db"),
		"client URL: http://localhost:" + port + " (give this to Matrix clients; listening on 127.0.0.1:" + port + ")",
		"registration: open, from this machine only",
		"reachable from this machine only",
		"metrics: http://" + m.metricsAddr.String() + "/metrics",
		"first start: create the first (admin) user with: go run ./cmd/axon-create-account -config " + filepath.Join(abs, "axon.yaml") + " -admin -user alice",
		"read next: docs/",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "federation") {
		t.Errorf("no federation URL while there is no federation API:\n%s", out)
	}
	// Metrics on their own listener; the public port has none.
	if code, _ := c.do("GET", "/metrics", "", nil); code != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404", code)
	}
	res, err := http.Get("http://" + m.metricsAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(body, []byte("axon_http_request_duration_seconds")) {
		t.Errorf("metrics listener: %d %.200s", res.StatusCode, body)
	}
	stop(t, m)

	var again syncBuffer
	m, _ = startTest(t, &options{dataDir: dir, httpBind: "127.0.0.1:0", logOutput: &again})
	defer stop(t, m)
	if s := again.String(); strings.Contains(s, "first start") || !strings.Contains(s, "server name localhost") {
		t.Errorf("second start:\n%s", s)
	}
}

// TestRegistrationBindSafety: open registration on a non-loopback listener refuses to
// start with a message that says what to do; token mode starts and says so.
func TestRegistrationBindSafety(t *testing.T) {
	dir := t.TempDir()
	_, err := start(&options{dataDir: filepath.Join(dir, "a"), httpBind: "0.0.0.0:0", metricsBind: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), `monolith.http_bind "0.0.0.0:0" is not loopback`) ||
		!strings.Contains(err.Error(), "allow_open_registration_on_public_listener") {
		t.Fatalf("open registration on 0.0.0.0: err = %v", err)
	}
	for _, tc := range []struct {
		name, yaml, want string
		warn             bool
	}{
		{"token", "client_api: {registration_mode: token}\n", "registration: with a registration token only", false},
		{"open, confirmed", "client_api: {allow_open_registration_on_public_listener: true}\n", "registration: OPEN to anyone", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "axon.yaml")
			yaml := "global: {data_dir: \"" + filepath.Join(filepath.Dir(path), "data") + "\"}\n" + tc.yaml
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var log syncBuffer
			m, _ := startTest(t, &options{configPath: path, httpBind: "0.0.0.0:0", logOutput: &log})
			defer stop(t, m)
			out := log.String()
			if !strings.Contains(out, tc.want) || strings.Contains(out, "level=warning msg=\"registration") != tc.warn {
				t.Fatalf("log:\n%s", out)
			}
			if strings.Contains(out, "reachable from this machine only") {
				t.Fatalf("0.0.0.0 is not loopback:\n%s", out)
			}
		})
	}
}
