package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/matrix/federation"
)

// front is a TLS reverse proxy the scenario puts in front of a server's federation port:
// the server's name is the front's address, so every request other servers make to it
// passes here, the way a TLS terminator (nginx, a load balancer) sits in front of a
// homeserver. The scenarios use fronts for two things:
//
//   - a network partition (three.go): while a server is cut off, its front refuses every
//     request to it, and every front refuses requests whose X-Matrix origin is it, so it
//     can neither reach nor be reached by the others over federation, while its clients
//     go on using it;
//   - the TLS listener of the polylith (polylith.go), whose axon-federation-api serves
//     plain HTTP on federation_api.public_listen.
//
// A refused request has its connection closed without an answer, as a dropped network
// would.
type front struct {
	name     string // 127.0.0.1:PORT: the server name of the server behind it
	listener net.Listener
	srv      *http.Server
	proxy    *httputil.ReverseProxy
	cuts     *partition
}

// partition is the set of server names currently cut off from the others.
type partition struct {
	mu  sync.Mutex
	cut map[string]bool
}

func (p *partition) set(name string, cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut == nil {
		p.cut = map[string]bool{}
	}
	p.cut[name] = cut
}

func (p *partition) isCut(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut[name]
}

// newFront listens on a free loopback port with a self-signed certificate written to dir.
// Its upstream is set by forward before it is served.
func newFront(dir string, cuts *partition) (*front, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(dir, "front.crt"), filepath.Join(dir, "front.key")
	if err := setup.WriteSelfSignedCert(certFile, keyFile, 24*time.Hour, "127.0.0.1"); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	return &front{name: addr, listener: l, cuts: cuts}, nil
}

// forward starts serving, forwarding to upstream (https://… of a monolith's own TLS
// port, whose self-signed certificate is not checked, or http://… of a federation-api).
// The request URI is forwarded as it came: the X-Matrix signature covers it.
func (f *front) forward(upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = u.Scheme, u.Host
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a loopback test server's self-signed certificate
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
		// A stopped upstream is expected (three.go stops C): no log line per refused dial.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	// http/1.1 only (NextProtos above), so a refused request's connection can be hijacked.
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	go func() { _ = f.srv.Serve(f.listener) }()
	return nil
}

// ServeHTTP forwards the request unless the partition cuts it off.
func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := ""
	for _, h := range r.Header.Values("Authorization") {
		if x, err := federation.ParseXMatrix(h); err == nil {
			origin = x.Origin
		}
	}
	if f.cuts != nil && (f.cuts.isCut(f.name) || (origin != "" && f.cuts.isCut(origin))) {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		http.Error(w, "partitioned", http.StatusBadGateway)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

func (f *front) close() {
	if f.srv != nil {
		_ = f.srv.Close()
	} else if f.listener != nil {
		_ = f.listener.Close()
	}
}
