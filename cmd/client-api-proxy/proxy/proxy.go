// Package proxy is client-api-proxy (ARCHITECTURE.md §4): the reverse proxy in front of the
// polylith's Tier 1 binaries. It routes public paths to them — the syncapi's paths
// (syncapi/api, the list the syncapi's own routes are tested against) to the sync
// instances, /_matrix/media and /_matrix/client/v1/media to the mediaapi, /_matrix/federation
// and /_matrix/key to the federationapi, everything else to the clientapi (§1) — and
// spreads sync traffic over several sync instances (§7: any instance serves any token).
//
// What it does for each request:
//   - picks a healthy upstream of the path's kind: for the sync paths, the instance the
//     caller's access token hashes to (rendezvous hashing over the healthy instances), so a
//     client reads /sync, /messages and /event from one instance whose view only moves
//     forward, and keeps its sync v3 sessions (POST /sync, docs/sync-v3.md), which live on
//     the instance that created them, while the set of healthy instances is stable; otherwise (and for a sync request without a token) the one with the fewest
//     requests in flight (ties in turn). An upstream is healthy when its last health check (GET /health,
//     periodically) answered 200 and no connect to it has failed since;
//   - streams the request body to the upstream and the response back, flushing every write
//     (FlushInterval -1), with no timeout on the response, so a 30 s /sync long-poll and a
//     large upload or download pass through untouched;
//   - sets X-Forwarded-For, X-Forwarded-Host and X-Forwarded-Proto from what it saw itself
//     (it is the edge: incoming X-Forwarded-* headers are dropped, not trusted — except the
//     X-Forwarded-For chain of a request from global.trusted_proxies, which it extends), and passes
//     the caller's X-Request-ID through (or gives the request one), echoing it back;
//   - when the upstream cannot be connected to, marks it down and, for a GET or HEAD
//     without a body, retries on another healthy upstream of the same kind;
//   - answers 502 {"errcode":"M_UNKNOWN"} when no upstream of the kind is available, and
//     404 {"errcode":"M_UNRECOGNIZED"} for a kind with no upstream configured (media and
//     federation, until those components have binaries), as the monolith answers paths
//     nothing serves.
//
// It serves its own /health — 200 while every configured kind has a healthy upstream,
// else 503; a kind with no upstream configured is not a failure; the JSON says, per kind
// and per upstream, what is up and what is down — and /metrics (requests per upstream and
// status, upstream health and in-flight gauges).
package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	axonhttp "github.com/axon-matrix/axon/internal/httputil"

	"github.com/axon-matrix/axon/internal/ratelimit"
)

// Options configure a Proxy.
type Options struct {
	// Upstreams are the base URLs (scheme://host:port) of each kind's instances.
	Upstreams map[Kind][]string
	// HealthCheckPath is fetched with GET on each upstream; 200 means healthy.
	HealthCheckPath string
	// HealthCheckInterval is the time between two rounds of health checks.
	HealthCheckInterval time.Duration
	// HealthCheckTimeout bounds one health check.
	HealthCheckTimeout time.Duration
	// ConnectTimeout bounds connecting to an upstream.
	ConnectTimeout time.Duration
	// Registry receives the proxy's metrics; /metrics serves it when non-nil.
	Registry *prometheus.Registry
	// TrustedProxies are global.trusted_proxies: a request whose connection comes from one
	// of them (a TLS terminator or load balancer in front of the proxy) keeps its
	// X-Forwarded-For chain, with the proxy's own hop appended, so the components still see
	// the client's address. From anyone else the header is dropped (the proxy is the edge).
	TrustedProxies []netip.Prefix
	// Logger logs upstream state changes and failures (nil: logrus' standard logger).
	Logger *logrus.Entry
	// Draining, when closed, makes /health answer 503 so load balancers stop sending.
	Draining <-chan struct{}
	// ResolveInterval, when positive, turns on DNS discovery (discovery.go): an http://
	// upstream URL whose host is a name, not an IP address, stands for every address the
	// name resolves to, looked up again every ResolveInterval (Docker's service names
	// resolve to all replicas). Zero: every URL is one upstream, as configured.
	ResolveInterval time.Duration
	// Resolver looks a host name up (nil: the system resolver, IPv4 and IPv6).
	Resolver func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Proxy is the reverse proxy. It is an http.Handler.
type Proxy struct {
	opts    Options
	pools   map[Kind]*pool
	m       *metrics
	rp      *httputil.ReverseProxy
	metrics http.Handler
	checker *http.Client
	log     *logrus.Entry
}

// New builds a proxy over opts.Upstreams. Every upstream starts unhealthy: call CheckNow
// (or Run, which starts with a round) before serving.
func New(opts Options) (*Proxy, error) {
	if opts.Logger == nil {
		opts.Logger = logrus.NewEntry(logrus.StandardLogger())
	}
	if opts.HealthCheckPath == "" {
		opts.HealthCheckPath = "/health"
	}
	for name, d := range map[string]*time.Duration{"health check interval": &opts.HealthCheckInterval,
		"health check timeout": &opts.HealthCheckTimeout, "connect timeout": &opts.ConnectTimeout} {
		if *d <= 0 {
			return nil, fmt.Errorf("proxy: %s must be positive", name)
		}
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	p := &Proxy{pools: map[Kind]*pool{}, m: m, log: opts.Logger}
	if opts.Resolver == nil {
		opts.Resolver = lookupIP
	}
	p.opts = opts
	for _, k := range Kinds {
		pl := &pool{kind: k}
		var ups []*upstream
		for _, raw := range opts.Upstreams[k] {
			src, err := parseSource(raw, opts.ResolveInterval > 0)
			if err != nil {
				return nil, fmt.Errorf("proxy: %s upstream %w", k, err)
			}
			pl.srcs = append(pl.srcs, src)
			if !src.dynamic { // a name to resolve gets its upstreams from Resolve
				ups = append(ups, p.newUpstream(k, src.url, raw))
			}
		}
		pl.ups.Store(&ups)
		p.pools[k] = pl
	}
	base := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		MaxIdleConns:          2048,
		MaxIdleConnsPerHost:   1024, // every parked /sync long-poll holds a connection
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// No ResponseHeaderTimeout: a /sync long-poll answers when it has something.
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      &retryTransport{base: base, m: m, log: p.log},
		FlushInterval:  -1, // flush every write: long-poll answers and downloads go out as they come
		ErrorHandler:   p.upstreamError,
		ModifyResponse: p.modifyResponse,
		ErrorLog:       nil,
	}
	p.checker = &http.Client{
		Transport: base,
		Timeout:   opts.HealthCheckTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	if opts.Registry != nil {
		p.metrics = promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry})
	}
	return p, nil
}

// newUpstream is an upstream of kind k at u (scheme and host only) named name; it starts
// unhealthy until a health check passes.
func (p *Proxy) newUpstream(k Kind, u *url.URL, name string) *upstream {
	up := &upstream{kind: k, url: &url.URL{Scheme: u.Scheme, Host: u.Host}, name: name, m: p.m}
	up.setHealthy(false)
	up.setInFlight(0)
	return up
}

// RequestIDHeader carries a request's ID; the same header internal/setup uses.
const RequestIDHeader = "X-Request-ID"

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// attemptKey carries the *attempt of a request through the reverse proxy.
type attemptKey struct{}

// attempt is one proxied request: its pool, the upstream it is on now, the ones tried.
type attempt struct {
	pool      *pool
	requestID string
	key       string // the access token a sync request is routed by ("" for none)
	current   *upstream
	tried     []*upstream
}

func (a *attempt) use(u *upstream) {
	if a.current != nil {
		a.current.release()
	}
	u.acquire()
	a.current = u
	a.tried = append(a.tried, u)
}

func (a *attempt) wasTried(u *upstream) bool {
	for _, t := range a.tried {
		if t == u {
			return true
		}
	}
	return false
}

func (a *attempt) done() {
	if a.current != nil {
		a.current.release()
		a.current = nil
	}
}

// ServeHTTP serves /health and /metrics itself and proxies every other request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health":
		p.serveHealth(w, r)
		return
	case "/metrics":
		if p.metrics != nil {
			p.metrics.ServeHTTP(w, r)
			return
		}
	}
	id := r.Header.Get(RequestIDHeader)
	if !requestIDRE.MatchString(id) {
		id = newRequestID()
	}
	kind := Route(r.URL.EscapedPath())
	pl := p.pools[kind]
	var key string
	if kind == KindSync {
		key = accessToken(r)
	}
	if len(pl.srcs) == 0 {
		w.Header().Set(RequestIDHeader, id)
		axonhttp.WriteJSON(w, http.StatusNotFound, map[string]string{
			"errcode": "M_UNRECOGNIZED",
			"error":   fmt.Sprintf("This server has no %s service", kind),
		})
		return
	}
	up := pl.pickFor(key, nil)
	if up == nil {
		p.unavailable(w, id, kind, "no healthy upstream")
		return
	}
	a := &attempt{pool: pl, requestID: id, key: key}
	a.use(up)
	defer a.done()
	r = r.WithContext(context.WithValue(r.Context(), attemptKey{}, a))
	p.rp.ServeHTTP(w, r)
}

// rewrite points the outgoing request at the attempt's upstream and sets the forwarding
// headers. httputil.ReverseProxy has already dropped the hop-by-hop and the incoming
// X-Forwarded-* headers.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	a := pr.In.Context().Value(attemptKey{}).(*attempt)
	pr.SetURL(a.current.url)
	pr.Out.Host = a.current.url.Host
	if ratelimit.FromTrustedProxy(pr.In, p.opts.TrustedProxies) {
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"] // SetXForwarded appends
	}
	pr.SetXForwarded()
	pr.Out.Header.Set(RequestIDHeader, a.requestID)
}

// modifyResponse echoes the request ID (replacing whatever the upstream said, so the
// client sees one value).
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if a, ok := resp.Request.Context().Value(attemptKey{}).(*attempt); ok {
		resp.Header.Set(RequestIDHeader, a.requestID)
	}
	return nil
}

// upstreamError answers a request whose upstream gave no response: 502 M_UNKNOWN, or
// nothing when the client has gone away.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	a := r.Context().Value(attemptKey{}).(*attempt)
	if r.Context().Err() != nil {
		return // the client gave up; nobody is listening
	}
	p.log.WithError(err).WithFields(logrus.Fields{"kind": a.pool.kind, "request_id": a.requestID,
		"path": r.URL.Path}).Warn("upstream request failed")
	p.unavailable(w, a.requestID, a.pool.kind, "upstream unreachable")
}

func (p *Proxy) unavailable(w http.ResponseWriter, requestID string, kind Kind, why string) {
	p.m.unavailable.WithLabelValues(string(kind)).Inc()
	w.Header().Set(RequestIDHeader, requestID)
	axonhttp.WriteJSON(w, http.StatusBadGateway, map[string]string{
		"errcode": "M_UNKNOWN",
		"error":   fmt.Sprintf("The %s service is unavailable: %s", kind, why),
	})
}

// The states of a kind in the proxy's /health.
const (
	kindUp            = "up"             // every upstream of the kind is healthy
	kindDegraded      = "degraded"       // some are down, at least one is healthy
	kindDown          = "down"           // none is healthy: /health fails
	kindNotConfigured = "not_configured" // no upstream listed: not a failure
)

// health is the proxy's /health answer.
type health struct {
	Status string `json:"status"`
	// Kinds is the state of each kind (kindUp, kindDegraded, kindDown, kindNotConfigured).
	Kinds map[string]string `json:"kinds"`
	// Upstreams is "up" or "down" per upstream URL, by kind.
	Upstreams map[string]map[string]string `json:"upstreams"`
	// Down lists the upstreams that are down, by kind (kinds with none are left out).
	Down map[string][]string `json:"down"`
}

// serveHealth answers 200 while every configured kind has a healthy upstream, 503
// otherwise or while draining, saying which kinds and upstreams are down. A kind with no
// upstream configured is reported as not_configured and does not fail the check.
func (p *Proxy) serveHealth(w http.ResponseWriter, _ *http.Request) {
	h := health{Status: "ok", Kinds: map[string]string{}, Upstreams: map[string]map[string]string{}, Down: map[string][]string{}}
	code := http.StatusOK
	for _, k := range Kinds {
		pl := p.pools[k]
		h.Upstreams[string(k)] = map[string]string{}
		healthy := 0 // counted here, so the answer agrees with itself
		ups := pl.list()
		for _, u := range ups {
			s := "down"
			if u.healthy.Load() {
				s = "up"
				healthy++
			} else {
				h.Down[string(k)] = append(h.Down[string(k)], u.name)
			}
			h.Upstreams[string(k)][u.name] = s
		}
		switch {
		case len(pl.srcs) == 0:
			h.Kinds[string(k)] = kindNotConfigured
		case healthy == 0:
			h.Kinds[string(k)] = kindDown
			h.Status, code = "unhealthy", http.StatusServiceUnavailable
		case healthy < len(ups):
			h.Kinds[string(k)] = kindDegraded
		default:
			h.Kinds[string(k)] = kindUp
		}
	}
	if p.opts.Draining != nil {
		select {
		case <-p.opts.Draining:
			h.Status, code = "shutting_down", http.StatusServiceUnavailable
		default:
		}
	}
	axonhttp.WriteJSON(w, code, h)
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// isConnectError reports whether err means the upstream could not be connected to, so the
// request never reached it.
func isConnectError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// hasNoBody reports whether req carries no body, so sending it again sends the same thing.
func hasNoBody(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody
}

// retryTransport sends a request to its attempt's upstream and, when that cannot be
// connected to, marks it down and moves a GET or HEAD without a body to another healthy
// upstream of the same kind.
type retryTransport struct {
	base http.RoundTripper
	m    *metrics
	log  *logrus.Entry
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a := req.Context().Value(attemptKey{}).(*attempt)
	for {
		up := a.current
		resp, err := t.base.RoundTrip(req)
		if err == nil {
			t.m.observe(up, resp.StatusCode)
			return resp, nil
		}
		t.m.observe(up, 0)
		if !isConnectError(err) || req.Context().Err() != nil {
			return nil, err
		}
		if up.setHealthy(false) {
			t.log.WithError(err).WithFields(logrus.Fields{"kind": up.kind, "upstream": up.name}).Warn("upstream down: connect failed")
		}
		retryable := (req.Method == http.MethodGet || req.Method == http.MethodHead) && hasNoBody(req)
		if !retryable {
			return nil, err
		}
		next := a.pool.pickFor(a.key, a.wasTried)
		if next == nil {
			return nil, err
		}
		a.use(next)
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host, req.Host = next.url.Scheme, next.url.Host, next.url.Host
	}
}

// Upstreams reports each upstream's health by kind, for logs and tests.
func (p *Proxy) Upstreams() map[Kind]map[string]bool {
	out := map[Kind]map[string]bool{}
	for _, k := range Kinds {
		out[k] = map[string]bool{}
		for _, u := range p.pools[k].list() {
			out[k][u.name] = u.healthy.Load()
		}
	}
	return out
}
