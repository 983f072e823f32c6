// Package fedclient builds the outbound federation client every component that talks to
// other servers shares (the serverkeyapi's key fetches now; the federationsender, the
// roomserver's backfill and media later): matrix/federation's signing Client over
// discovery, with the destination guard of federation_api.allow_private_destinations on
// every connection it makes — federation requests and /.well-known lookups alike — and
// certificate verification unless federation_api.disable_tls_validation.
package fedclient

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/federation/discovery"
	"github.com/axon-matrix/axon/matrix/signing"
)

// Options are what tests change; production uses the zero value.
type Options struct {
	// Scheme is the wire scheme ("https" by default; "http" for tests against plain
	// servers).
	Scheme string
	// WellKnownScheme likewise for /.well-known lookups.
	WellKnownScheme string
}

// New returns a federation client that signs as global.server_name with key. Unless
// federation_api.allow_private_destinations is set, it refuses to connect to private,
// loopback and link-local addresses, checked after DNS (federation.PublicDialer).
func New(cfg *config.Config, key signing.SigningKey, opts Options) *federation.Client {
	dial := federation.PublicDialer(cfg.FederationAPI.AllowPrivateDestinations)
	var tlsConfig *tls.Config
	if cfg.FederationAPI.DisableTLSValidation {
		// federation_api.disable_tls_validation: self-signed certificates of test networks.
		tlsConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in, documented as test-only
	}
	wellKnown := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     tlsConfig,
		Proxy:               nil, // never through a proxy from the environment: the guard must see the address
		DialContext:         dial,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}}
	resolver := discovery.New(nil, wellKnown, discovery.Options{WellKnownScheme: opts.WellKnownScheme})
	return federation.NewClient(cfg.Global.ServerName, key, resolver, federation.ClientOptions{
		Transport: federation.TransportOptions{Scheme: opts.Scheme, DialContext: dial, TLSConfig: tlsConfig},
	})
}
