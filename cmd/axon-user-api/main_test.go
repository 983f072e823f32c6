package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/eventlog/kafka"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/inthttp"
)

const (
	testServer = "test.example"
	testSecret = "0123456789abcdef-process-test"
)

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
	bin := processtest.Build(t, ".", "axon-user-api")
	dir := t.TempDir()
	port := processtest.FreePort(t)
	cfgPath := processtest.WriteConfig(t, dir, processtest.Config{ServerName: testServer, Section: "user_api", Port: port, Secret: testSecret})
	p := processtest.Start(t, bin, port, "-config", cfgPath)
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

	p.Stop(t)

	// A restart keeps accounts and tokens.
	p = processtest.Start(t, bin, port, "-config", cfgPath)
	if got, err := c.QueryAccessToken(ctx, dev.AccessToken); err != nil || got.DeviceID != dev.DeviceID {
		t.Fatalf("token after restart: %+v %v", got, err)
	}
	p.Stop(t)

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
	bin := processtest.Build(t, ".", "axon-user-api")
	port := processtest.FreePort(t)
	cfg := processtest.WriteConfig(t, t.TempDir(), processtest.Config{ServerName: testServer, Section: "user_api", Port: port,
		Listen: fmt.Sprintf("0.0.0.0:%d", port)})
	if r := processtest.Run(t, bin, "-config", cfg); r.ExitCode != 1 || !strings.Contains(r.Output, "internal_api_secret") {
		t.Fatalf("exit %d, output:\n%s", r.ExitCode, r.Output)
	}
	if r := processtest.Run(t, bin); r.ExitCode != 2 || !strings.Contains(r.Output, "-config is required") {
		t.Fatalf("without -config: exit %d, output:\n%s", r.ExitCode, r.Output)
	}
}

// TestProcessKafka runs axon-user-api with the kafka event log (kfake, a fake broker in
// this test process) and finds its topic 1 message there while the process runs.
func TestProcessKafka(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-user-api")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	port := processtest.FreePort(t)
	cfgPath := processtest.WriteConfig(t, t.TempDir(), processtest.Config{ServerName: testServer, Section: "user_api", Port: port,
		Secret: testSecret, Global: fmt.Sprintf("  event_log:\n    backend: kafka\n    kafka:\n      brokers: [%s]\n      partitions: 2\n",
			strings.Join(cluster.ListenAddrs(), ", "))})
	p := processtest.Start(t, bin, port, "-config", cfgPath)
	ctx := context.Background()
	c := inthttp.NewClient(fmt.Sprintf("http://127.0.0.1:%d", port), testSecret)
	acct, err := c.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "kafka"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetAccountData(ctx, &api.AccountData{UserID: acct.UserID, Type: "m.kafka", Content: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// The process keeps running while the test reads topic 1: the outbox relays after the
	// commit, so stopping it first could leave the message staged (and published only at
	// the next start) on a slow machine.
	defer p.Stop(t)

	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	log, err := kafka.New(kafka.Config{Brokers: cluster.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out api.OutputAccountData
	err = log.Consumer().Consume(cctx, cfg.TopicName(eventlog.TopicAccountData), "process-test", func(_ context.Context, m eventlog.Message) error {
		if err := json.Unmarshal(m.Value, &out); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err != nil || out.UserID != acct.UserID || out.Type != "m.kafka" {
		t.Fatalf("topic 1 on kafka: %+v %v", out, err)
	}
}
