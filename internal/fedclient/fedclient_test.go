package fedclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
)

// TestPrivateDestinations: a client built from the config refuses a loopback destination
// unless federation_api.allow_private_destinations is set.
func TestPrivateDestinations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"server":{"name":"T"}}`))
	}))
	defer srv.Close()
	key, _ := signing.GenerateKey("k", nil)
	for _, allow := range []bool{false, true} {
		cfg := config.Defaults(t.TempDir())
		cfg.FederationAPI.AllowPrivateDestinations = allow
		c := New(cfg, key, Options{Scheme: "http", WellKnownScheme: "http"})
		v, err := c.Version(context.Background(), srv.Listener.Addr().String())
		switch {
		case !allow && !errors.Is(err, federation.ErrPrivateDestination):
			t.Errorf("default: %+v, %v; want ErrPrivateDestination", v, err)
		case allow && (err != nil || v.Server.Name != "T"):
			t.Errorf("allowed: %+v, %v", v, err)
		}
	}
}

// TestTLSValidation: a self-signed certificate is refused unless
// federation_api.disable_tls_validation is set.
func TestTLSValidation(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"server":{"name":"T"}}`))
	}))
	defer srv.Close()
	key, _ := signing.GenerateKey("k", nil)
	for _, disable := range []bool{false, true} {
		cfg := config.Defaults(t.TempDir())
		cfg.FederationAPI.AllowPrivateDestinations = true
		cfg.FederationAPI.DisableTLSValidation = disable
		c := New(cfg, key, Options{})
		v, err := c.Version(context.Background(), srv.Listener.Addr().String())
		switch {
		case !disable && err == nil:
			t.Errorf("default: a self-signed certificate was accepted")
		case disable && (err != nil || v.Server.Name != "T"):
			t.Errorf("disabled validation: %+v, %v", v, err)
		}
	}
}
