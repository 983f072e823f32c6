package polylith

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/setup"
)

func TestStartPublic(t *testing.T) {
	tests := []struct {
		name      string
		component string
		wire      func(p *Process) error
		wantErr   string
	}{
		{"sync api", config.ComponentSyncAPI, nil, ""},
		{"client api", config.ComponentClientAPI, nil, ""},
		{"tier 2 has no public listener", config.ComponentUserAPI, nil, "no public listener"},
		{"wire fails", config.ComponentSyncAPI, func(*Process) error { return errors.New("boom") }, "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Defaults(t.TempDir())
			cfg.ClientAPI.PublicListen = "127.0.0.1:0"
			cfg.SyncAPI.PublicListen = "127.0.0.1:0"
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			wire := tc.wire
			if wire == nil {
				wire = func(p *Process) error {
					setup.FullPathRouter(p.Base.PublicClientAPIMux).HandleFunc("/_matrix/client/v3/ping", func(w http.ResponseWriter, _ *http.Request) {
						_, _ = w.Write([]byte(`{"pong":true}`))
					})
					return nil
				}
			}
			p, err := StartPublic(cfg, tc.component, wire)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			base := "http://" + p.PublicAddr.String()
			// /metrics is not on the public listener (no global.metrics.bearer_token).
			for path, want := range map[string]int{"/health": 200, "/metrics": 404, "/_matrix/client/v3/ping": 200,
				"/api/userapi/QueryAccessToken": 404, "/_matrix/client/v3/nope": 404} {
				res, err := http.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != want {
					t.Errorf("%s: %d, want %d", path, res.StatusCode, want)
				}
			}
			if p.InternalAddr != nil {
				t.Errorf("a Tier 1 binary serves an internal API on %v", p.InternalAddr)
			}
			if err := p.Base.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMainPublicFlags(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "axon.yaml")
	if err := os.WriteFile(path, []byte("global:\n  server_name: p.example\n  data_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got string
	b := Public{Name: "axon-test", Component: config.ComponentSyncAPI,
		Flags: func(fs *flag.FlagSet) { fs.StringVar(&got, "instance", "0", "") },
		Configure: func(cfg *config.Config) error {
			if got == "bad" {
				return errors.New("bad instance")
			}
			return nil
		},
		Wire: func(*Process) error { return errors.New("not started in this test") },
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, 0, "-public-bind"},
		{"help names -metrics-bind", []string{"-h"}, 0, "-metrics-bind"},
		{"no config", nil, 2, "-config is required"},
		{"stray", []string{"-config", path, "x"}, 2, "unexpected arguments"},
		{"configure fails", []string{"-config", path, "-instance", "bad"}, 1, "bad instance"},
		{"bad bind", []string{"-config", path, "-public-bind", "nope"}, 1, "sync_api.public_listen"},
		{"wire fails", []string{"-config", path, "-public-bind", "127.0.0.1:0"}, 1, "not started in this test"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		if code := MainPublic(b, tc.args, &out); code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, code, tc.code, tc.want, out.String())
		}
	}
}

func TestLoadPublicConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "axon.yaml")
	if err := os.WriteFile(path, []byte("sync_api:\n  public_listen: \":9000\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		component, bind, want string
	}{
		{config.ComponentSyncAPI, "", ":9000"},
		{config.ComponentSyncAPI, "127.0.0.1:9001", "127.0.0.1:9001"},
	}
	for _, tc := range tests {
		cfg, err := loadPublicConfig(path, tc.component, tc.bind, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := *PublicListen(cfg, tc.component); got != tc.want {
			t.Errorf("bind %q: public_listen %q, want %q", tc.bind, got, tc.want)
		}
	}
	if _, err := loadPublicConfig(path, config.ComponentRoomServer, ":1", nil); err == nil {
		t.Error("-public-bind accepted for the roomserver")
	}
}
