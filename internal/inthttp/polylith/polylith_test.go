package polylith

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp"
)

const secret = "0123456789abcdef-polylith"

func testConfig(t *testing.T, listen, secret string) *config.Config {
	t.Helper()
	cfg := config.Defaults(t.TempDir())
	cfg.Global.ServerName = "poly.example"
	cfg.Global.InternalAPISecret = secret
	cfg.UserAPI.InternalAPIListen = listen
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type pingReq struct{}
type pingResp struct {
	Pong bool `json:"pong"`
}

func TestStart(t *testing.T) {
	tests := []struct {
		name    string
		listen  string
		secret  string
		wire    func(p *Process) error
		wantErr string
	}{
		{"loopback without secret", "127.0.0.1:0", "", nil, ""},
		{"any interface with secret", ":0", secret, nil, ""},
		{"any interface without secret", ":0", "", nil, "internal_api_secret"},
		{"wire fails", "127.0.0.1:0", secret, func(*Process) error { return errors.New("boom") }, "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stopped atomic.Bool
			wire := tc.wire
			if wire == nil {
				wire = func(p *Process) error {
					inthttp.Handle(p.Base.InternalAPIMux, "/test/ping", func(context.Context, *pingReq) (*pingResp, error) {
						return &pingResp{true}, nil
					})
					p.Go("waits for shutdown", func(ctx context.Context) error {
						<-ctx.Done()
						time.Sleep(20 * time.Millisecond)
						stopped.Store(true)
						return ctx.Err()
					})
					return nil
				}
			}
			p, err := Start(testConfig(t, tc.listen, tc.secret), config.ComponentUserAPI, wire)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			port := p.InternalAddr.String()[strings.LastIndex(p.InternalAddr.String(), ":"):]
			base := "http://127.0.0.1" + port
			var resp pingResp
			if err := inthttp.NewClient(base, tc.secret).Call(context.Background(), "/test/ping", pingReq{}, &resp, true); err != nil || !resp.Pong {
				t.Fatalf("ping: %+v %v", resp, err)
			}
			if tc.secret != "" {
				err := inthttp.NewClient(base, "").Call(context.Background(), "/test/ping", pingReq{}, &resp, true)
				var me *httputil.MatrixError
				if !errors.As(err, &me) || me.Status != 401 || me.ErrCode != "M_UNAUTHORIZED" {
					t.Fatalf("without secret: %v", err)
				}
			}
			for _, path := range []string{"/health", "/metrics"} {
				res, err := http.Get(base + path)
				if err != nil || res.StatusCode != 200 {
					t.Fatalf("%s: %v %v", path, res, err)
				}
				res.Body.Close()
			}
			if err := p.Base.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !stopped.Load() {
				t.Fatal("shutdown did not wait for the background task")
			}
		})
	}
}

func TestEventLogAndOutbox(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:0", "")
	var p *Process
	_, err := Start(cfg, config.ComponentUserAPI, func(pp *Process) error {
		p = pp
		l1, err := p.EventLog()
		if err != nil {
			return err
		}
		l2, _ := p.EventLog()
		if l1 != l2 {
			t.Error("EventLog opened the log twice")
		}
		_, err = p.Outbox(config.ComponentUserAPI)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Base.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
