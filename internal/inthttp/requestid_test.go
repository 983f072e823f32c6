package inthttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/setup"
)

// TestRequestIDForwarded: a call made while serving a request carries that request's ID,
// so both binaries log the same request_id.
func TestRequestIDForwarded(t *testing.T) {
	var got string
	callee := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get(setup.RequestIDHeader)
		httputil.WriteJSON(w, 200, Empty{})
	}))
	t.Cleanup(callee.Close)
	cfg := config.Defaults(t.TempDir())
	base, err := setup.NewBase(cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(callee.URL, "")
	Handle(base.InternalAPIMux, "/test/relay", func(ctx context.Context, _ *Empty) (*Empty, error) {
		return nil, c.Call(ctx, "/callee/x", Empty{}, nil, true)
	})
	caller := httptest.NewServer(base.InternalHandler())
	t.Cleanup(caller.Close)
	req, _ := http.NewRequest(http.MethodPost, caller.URL+"/api/test/relay", strings.NewReader(`{}`))
	req.Header.Set(setup.RequestIDHeader, "req-42")
	res, err := caller.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || got != "req-42" {
		t.Fatalf("status %d, callee saw request ID %q", res.StatusCode, got)
	}
}
