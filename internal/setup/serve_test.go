package setup

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/config"
)

// TestGracefulShutdownLetsInFlightRequestFinish starts a slow request, shuts down while it
// runs, and checks: the request completes with its full answer, new connections are
// refused, Context is canceled only after the drain, and hooks run afterwards in reverse.
func TestGracefulShutdownLetsInFlightRequestFinish(t *testing.T) {
	b := newTestBase(t, nil)
	started := make(chan struct{})
	release := make(chan struct{})
	b.PublicClientAPIMux.HandleFunc("/v3/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		select {
		case <-b.Context().Done():
			t.Error("Context canceled while a request was still in flight")
		default:
		}
		_, _ = io.WriteString(w, `{"done":true}`)
	})
	var mu sync.Mutex
	var order []string
	record := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			if b.Context().Err() == nil {
				t.Errorf("hook %s ran before Context was canceled", name)
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			return nil
		}
	}
	b.AddShutdownHook("db", record("db"))
	b.AddShutdownHook("consumer", record("consumer"))
	addr, err := b.ServePublic("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr.String()

	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/_matrix/client/v3/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		res <- result{string(body), err}
	}()
	<-started

	shut := make(chan error, 1)
	go func() { shut <- b.Shutdown(context.Background()) }()
	<-b.Draining()
	if rec := do(t, b.PublicHandler(), "GET", "/health", nil); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("/health while draining: %d, want 503", rec.Code)
	}
	// Wait until the listener is closed, then check new connections are refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		_, err := c.Get(url + "/health")
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server still accepts connections during shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned before the in-flight request finished: %v", err)
	default:
	}
	close(release)
	r := <-res
	if r.err != nil || r.body != `{"done":true}` {
		t.Fatalf("in-flight request: %q, %v", r.body, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if strings.Join(order, ",") != "consumer,db" {
		t.Fatalf("hooks ran as %v, want consumer then db", order)
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if _, err := b.ServePublic("127.0.0.1:0"); err == nil {
		t.Fatal("Serve after Shutdown succeeded")
	}
}

func TestShutdownBoundsStuckRequestsAndHooks(t *testing.T) {
	b := newTestBase(t, nil)
	b.DrainTimeout = 200 * time.Millisecond
	b.HookTimeout = 200 * time.Millisecond
	started := make(chan struct{})
	b.PublicClientAPIMux.HandleFunc("/v3/stuck", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // only ends when the connection is cut
	})
	hookErr := errors.New("boom")
	var mu sync.Mutex
	var ran []string
	note := func(name string) { mu.Lock(); ran = append(ran, name); mu.Unlock() }
	b.AddShutdownHook("fails", func(context.Context) error { note("fails"); return hookErr })
	b.AddShutdownHook("hangs", func(ctx context.Context) error { note("hangs"); select {} }) // ignores ctx
	addr, err := b.ServePublic("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		resp, err := http.Get("http://" + addr.String() + "/_matrix/client/v3/stuck")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	start := time.Now()
	err = b.Shutdown(context.Background())
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Shutdown took %s", took)
	}
	if err == nil || !errors.Is(err, hookErr) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown error %v should report the drain timeout, the hung hook and the failed hook", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(ran, ",") != "hangs,fails" {
		t.Fatalf("hooks ran as %v", ran)
	}
}

func TestRunUntilSignal(t *testing.T) {
	b := newTestBase(t, nil)
	hookRan := make(chan struct{})
	b.AddShutdownHook("h", func(context.Context) error { close(hookRan); return nil })
	sigs := make(chan os.Signal, 2)
	done := make(chan error, 1)
	go func() { done <- b.runUntil(sigs, func() { t.Error("forced exit") }) }()
	sigs <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("runUntil did not return after SIGTERM")
	}
	<-hookRan
}

func TestRunUntilServerFailure(t *testing.T) {
	b := newTestBase(t, nil)
	b.serveErrs <- errors.New("listener died")
	err := b.runUntil(make(chan os.Signal), func() {})
	if err == nil || !strings.Contains(err.Error(), "listener died") {
		t.Fatalf("runUntil: %v", err)
	}
}

func TestServeReportsTakenPort(t *testing.T) {
	b := newTestBase(t, nil)
	addr, err := b.ServePublic("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ServePublic(addr.String()); err == nil {
		t.Fatal("second listen on the same port succeeded")
	}
}

func TestOpenDatabase(t *testing.T) {
	var dir string
	b := newTestBase(t, func(c *config.Config) {
		dir = filepath.Join(c.Global.DataDir, "not", "yet")
		c.Global.DataDir = dir
	})
	db1, err := b.OpenDatabase(config.ComponentUserAPI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "userapi.db")); err != nil {
		t.Fatalf("SQLite file not under data_dir: %v", err)
	}
	again, err := b.OpenDatabase(config.ComponentUserAPI)
	if err != nil || again != db1 {
		t.Fatalf("second open of the same database is a new pool: %v", err)
	}
	db2, err := b.OpenDatabase(config.ComponentRoomServer)
	if err != nil || db2 == db1 {
		t.Fatalf("roomserver shares the userapi file: %v", err)
	}
	if _, err := db1.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if rec := do(t, b.PublicHandler(), "GET", "/health", nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), "database:userapi") {
		t.Fatalf("/health: %d %s", rec.Code, rec.Body)
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db1.Ping(); err == nil {
		t.Fatal("database still open after shutdown")
	}
}

func TestRunUntilShutdownElsewhere(t *testing.T) {
	b := newTestBase(t, nil)
	hookDone := make(chan struct{})
	b.AddShutdownHook("slow", func(context.Context) error {
		time.Sleep(50 * time.Millisecond)
		close(hookDone)
		return errors.New("hook failed")
	})
	done := make(chan error, 1)
	go func() { done <- b.runUntil(make(chan os.Signal), func() { t.Error("forced exit") }) }()
	go func() { _ = b.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		select {
		case <-hookDone:
		default:
			t.Fatal("runUntil returned before the shutdown finished")
		}
		if err == nil || !strings.Contains(err.Error(), "hook failed") {
			t.Fatalf("runUntil: %v, want the shutdown's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("runUntil did not return after Shutdown")
	}
}
