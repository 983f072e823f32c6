// Package processtest runs polylith binaries as real processes in tests: it builds a
// command, writes a config for one component on SQLite with its internal API on a free
// loopback port, starts the binary, waits for /health and stops it with SIGTERM, expecting
// a clean exit. Only tests import it.
package processtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the command in directory pkgDir ("." for the test's own package) with
// CGO_ENABLED=0 into a temp dir and returns the binary's path. With -short the test is
// skipped.
func Build(t *testing.T, pkgDir, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a binary")
	}
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, pkgDir)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkgDir, err, out)
	}
	return bin
}

// handedOut is every port FreePort returned in this process.
var handedOut sync.Map

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t *testing.T) int {
	t.Helper()
	// A port from the kernel's ephemeral range (what "127.0.0.1:0" gives) can be taken by
	// any outgoing connection between this check and the process's bind — with many test
	// binaries running at once that happened. Ports below the ephemeral range (32768 on
	// Linux) are only ever taken by an explicit bind, so pick one there at random.
	// A port handed out before in this process is not handed out again: the processes bind
	// only later, so two calls could otherwise return the same free port.
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	t.Fatal("no free port found between 20000 and 32000")
	return 0
}

// Config describes the config file WriteConfig writes.
type Config struct {
	ServerName string
	// Section is the component's YAML section, e.g. "user_api".
	Section string
	Port    int
	Secret  string
	// Listen overrides the internal_api_listen address (default 127.0.0.1:Port).
	Listen string
	// Global is YAML added to the global section, indented by two spaces, e.g.
	// "  event_log:\n    backend: kafka\n".
	Global string
}

// WriteConfig writes c as dir/axon.yaml: data (SQLite files, the embedded event log, the
// signing key path) under dir, metrics on, and returns its path.
func WriteConfig(t *testing.T, dir string, c Config) string {
	t.Helper()
	listen := c.Listen
	if listen == "" {
		listen = fmt.Sprintf("127.0.0.1:%d", c.Port)
	}
	yaml := fmt.Sprintf(`global:
  server_name: %s
  data_dir: %q
  private_key_path: %q
  internal_api_secret: %q
  metrics:
    enabled: true
%s%s:
  internal_api_listen: %q
  internal_api_url: "http://127.0.0.1:%d"
`, c.ServerName, dir, filepath.Join(dir, "signing.key"), c.Secret, c.Global, c.Section, listen, c.Port)
	path := filepath.Join(dir, "axon.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Proc is a running binary.
type Proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
	ok   bool
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs bin with args and waits until http://127.0.0.1:port/health answers 200 (at
// most 30s). The process is killed when the test ends if it still runs.
func Start(t *testing.T, bin string, port int, args ...string) *Proc {
	t.Helper()
	p := &Proc{cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if !p.ok {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	health := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-p.done:
			p.ok = true
			t.Fatalf("%s exited early: %v\n%s", bin, err, p.out)
		default:
		}
		if res, err := http.Get(health); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy after 30s\n%s", bin, p.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and fails the test unless the process exits with status 0 within 30s.
func (p *Proc) Stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.ok = true
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30s after SIGTERM\n%s", p.out)
	}
}

// Output is what the process wrote so far.
func (p *Proc) Output() string { return p.out.String() }

// Result is how a process that ran to its end ended.
type Result struct {
	ExitCode int
	Output   string
}

// Run runs bin with args to its end (at most 60s) and returns its exit code and output.
func Run(t *testing.T, bin string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	timer := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return Result{0, string(out)}
	case errors.As(err, &ee):
		return Result{ee.ExitCode(), string(out)}
	default:
		t.Fatalf("running %s: %v", bin, err)
		return Result{}
	}
}
