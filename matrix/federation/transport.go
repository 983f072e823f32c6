package federation

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/axon-matrix/axon/matrix/federation/discovery"
	"github.com/axon-matrix/axon/matrix/signing"
)

// URLScheme is the scheme of the URLs the Transport takes: matrix-federation://<server
// name>/_matrix/… . The host part is the destination's server name, before discovery.
const URLScheme = "matrix-federation"

// TransportOptions tunes a Transport. Zero values are the production settings.
type TransportOptions struct {
	// Scheme is the scheme actually used on the wire: "https" (default), or "http" for
	// tests against plain httptest servers.
	Scheme string
	// DialContext dials the resolved addresses (net.Dialer by default). Tests map names to
	// loopback with it.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSConfig is the base TLS configuration (RootCAs etc.); ServerName is set per
	// destination from discovery.
	TLSConfig *tls.Config
	// ResponseHeaderTimeout bounds the wait for response headers (0: none beyond the
	// request's context).
	ResponseHeaderTimeout time.Duration
}

// Transport is an http.RoundTripper for federation requests: it finds the destination
// with discovery, signs the request with X-Matrix as origin, sets the Host header and the
// TLS server name the spec asks for, and tries the discovered addresses in order until one
// accepts a connection. It is safe for concurrent use.
type Transport struct {
	origin   string
	key      signing.SigningKey
	resolver *discovery.Resolver
	opts     TransportOptions

	mu    sync.Mutex
	byTLS map[string]*http.Transport // one connection pool per certificate name
}

// NewTransport builds a Transport that signs as origin with key.
func NewTransport(origin string, key signing.SigningKey, resolver *discovery.Resolver, opts TransportOptions) *Transport {
	if opts.Scheme == "" {
		opts.Scheme = "https"
	}
	if opts.DialContext == nil {
		opts.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	return &Transport{origin: origin, key: key, resolver: resolver, opts: opts, byTLS: map[string]*http.Transport{}}
}

func (t *Transport) pool(tlsName string) *http.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.byTLS[tlsName]; p != nil {
		return p
	}
	var cfg *tls.Config
	if t.opts.TLSConfig != nil {
		cfg = t.opts.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	// For an IP address Go verifies the certificate's IP SANs and sends no SNI, as the
	// spec asks.
	cfg.ServerName = tlsName
	p := &http.Transport{
		DialContext:           t.opts.DialContext,
		TLSClientConfig:       cfg,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: t.opts.ResponseHeaderTimeout,
	}
	t.byTLS[tlsName] = p
	return p
}

// CloseIdleConnections closes idle connections of every pool.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.byTLS {
		p.CloseIdleConnections()
	}
}

// RoundTrip implements http.RoundTripper for matrix-federation:// URLs.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != URLScheme {
		return nil, fmt.Errorf("federation: transport needs a %s:// URL, got %q", URLScheme, req.URL.Scheme)
	}
	destination := req.URL.Host
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	auth, err := RequestToSign{Method: req.Method, URI: req.URL.RequestURI(), Origin: t.origin,
		Destination: destination, Content: body}.Sign(t.key.ID, t.key.Private)
	if err != nil {
		return nil, err
	}
	servers, err := t.resolver.Resolve(req.Context(), destination)
	if err != nil {
		return nil, fmt.Errorf("federation: resolving %s: %w", destination, err)
	}
	var errs []error
	for _, s := range servers {
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host, out.Host = t.opts.Scheme, s.Addr, s.Host
		out.Header.Set("Authorization", auth.String())
		if body != nil {
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		} else {
			out.Body, out.ContentLength = http.NoBody, 0
		}
		resp, err := t.pool(s.TLSServerName).RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.Addr, err))
		if req.Context().Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("federation: no address of %s answered: %w", destination, errors.Join(errs...))
}
