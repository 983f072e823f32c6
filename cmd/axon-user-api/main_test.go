package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/inthttp"
)

const (
	testServer = "test.example"
	testSecret = "0123456789abcdef-process-test"
)

// buildBinary compiles this command into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "axon-user-api")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeConfig writes a config for the userapi on SQLite under dir, its internal API on a
// free loopback port, the embedded event log, metrics on.
func writeConfig(t *testing.T, dir string, port int, secret string) string {
	t.Helper()
	cfg := fmt.Sprintf(`global:
  server_name: %s
  data_dir: %q
  private_key_path: %q
  internal_api_secret: %q
  metrics:
    enabled: true
  logging:
    level: info
user_api:
  internal_api_listen: "127.0.0.1:%d"
  internal_api_url: "http://127.0.0.1:%d"
`, testServer, dir, filepath.Join(dir, "signing.key"), secret, port, port)
	path := filepath.Join(dir, "axon.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// proc is a running axon-user-api.
type proc struct {
	cmd  *exec.Cmd
	out  *strings.Builder
	done chan error
}

func startProc(t *testing.T, bin, configPath string, port int) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, "-config", configPath), out: &strings.Builder{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	health := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-p.done:
			t.Fatalf("axon-user-api exited early: %v\n%s", err, p.out)
		default:
		}
		if res, err := http.Get(health); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("axon-user-api not healthy after 30s\n%s", p.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30s after SIGTERM\n%s", p.out)
	}
}

func matrixErr(err error) (int, string) {
	var me *httputil.MatrixError
	if errors.As(err, &me) {
		return me.Status, me.ErrCode
	}
	return 0, fmt.Sprint(err)
}

// TestProcess runs axon-user-api as a real process on SQLite and calls it through
// userapi/inthttp.Client: accounts, login, token checks, the secret, /metrics, a graceful
// stop, a restart that keeps the data, and the topic 1 message its outbox relay published.
func TestProcess(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := writeConfig(t, dir, port, testSecret)
	p := startProc(t, bin, cfgPath, port)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx := context.Background()
	c := inthttp.NewClient(base, testSecret)

	acct, err := c.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice", Password: "correct horse"})
	if err != nil || acct.UserID != "@alice:"+testServer {
		t.Fatalf("CreateAccount %+v %v", acct, err)
	}
	if _, err := c.CheckPassword(ctx, acct.UserID, "correct horse"); err != nil {
		t.Fatalf("login: %v", err)
	}
	dev, err := c.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: acct.UserID, DisplayName: "laptop", IP: "192.0.2.1"})
	if err != nil || dev.AccessToken == "" {
		t.Fatalf("CreateDevice %+v %v", dev, err)
	}
	got, err := c.QueryAccessToken(ctx, dev.AccessToken)
	if err != nil || got.UserID != acct.UserID || got.DeviceID != dev.DeviceID {
		t.Fatalf("QueryAccessToken %+v %v", got, err)
	}
	if err := c.SetAccountData(ctx, &api.AccountData{UserID: acct.UserID, Type: "m.test", Content: json.RawMessage(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}

	errs := []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"unknown token", func() error { _, err := c.QueryAccessToken(ctx, "nope"); return err }, 401, "M_UNKNOWN_TOKEN"},
		{"wrong password", func() error { _, err := c.CheckPassword(ctx, acct.UserID, "nope"); return err }, 403, "M_FORBIDDEN"},
		{"taken", func() error {
			_, err := c.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice"})
			return err
		}, 400, "M_USER_IN_USE"},
		{"wrong secret", func() error {
			_, err := inthttp.NewClient(base, "wrong-secret-0123456789").QueryAccessToken(ctx, dev.AccessToken)
			return err
		}, 401, "M_UNAUTHORIZED"},
		{"no secret", func() error {
			_, err := inthttp.NewClient(base, "").CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "mallory"})
			return err
		}, 401, "M_UNAUTHORIZED"},
	}
	for _, tc := range errs {
		if s, code := matrixErr(tc.call()); s != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, s, code, tc.status, tc.code)
		}
	}
	if ok, err := c.LocalpartAvailable(ctx, "mallory"); err != nil || !ok {
		t.Fatalf("a refused call created mallory: %v %v", ok, err)
	}

	res, err := http.Get(base + "/metrics")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %v %v", res, err)
	}
	res.Body.Close()

	p.stop(t)

	// A restart keeps accounts and tokens.
	p = startProc(t, bin, cfgPath, port)
	if got, err := c.QueryAccessToken(ctx, dev.AccessToken); err != nil || got.DeviceID != dev.DeviceID {
		t.Fatalf("token after restart: %+v %v", got, err)
	}
	p.stop(t)

	// The outbox relay published the account data change on topic 1 of the embedded log.
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: "file:" + filepath.Join(dir, "eventlog.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log, err := embedded.New(ctx, db, embedded.Config{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var msg eventlog.Message
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	err = log.Consumer().Consume(cctx, cfg.TopicName(eventlog.TopicAccountData), "process-test", func(_ context.Context, m eventlog.Message) error {
		msg = m
		cancel()
		return nil
	})
	if err != nil || msg.Key != acct.UserID {
		t.Fatalf("topic 1: %+v %v", msg, err)
	}
	var out api.OutputAccountData
	if err := json.Unmarshal(msg.Value, &out); err != nil || out.Type != "m.test" {
		t.Fatalf("topic 1 payload %s: %v", msg.Value, err)
	}
}

// TestRefusesOpenInternalAPIWithoutSecret: no secret and a non-loopback listen address is
// a configuration the binary will not serve.
func TestRefusesOpenInternalAPIWithoutSecret(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, freePort(t), "")
	raw, _ := os.ReadFile(cfg)
	raw = []byte(strings.Replace(string(raw), `internal_api_listen: "127.0.0.1:`, `internal_api_listen: "0.0.0.0:`, 1))
	if err := os.WriteFile(cfg, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-config", cfg).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "internal_api_secret") {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
	out, err = exec.Command(bin).CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "-config is required") {
		t.Fatalf("without -config: exit %v, output:\n%s", err, out)
	}
}
