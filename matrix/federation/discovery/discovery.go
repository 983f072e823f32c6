// Package discovery resolves Matrix server names to the addresses to connect to (server-server
// spec "Resolving server names"): IP literals, explicit ports, /.well-known/matrix/server
// delegation with its caching rules, SRV records (_matrix-fed._tcp, then the deprecated
// _matrix._tcp) and the default port 8448. The federation client's Transport uses it for
// every outgoing request (topics 5 and 6 of ARCHITECTURE.md §2 end there, in the
// federationsender).
package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/axon-matrix/axon/matrix"
)

// DefaultPort is the federation port used when nothing names another.
const DefaultPort = 8448

// DNS is the part of *net.Resolver discovery needs; tests inject a fake.
type DNS interface {
	LookupSRV(ctx context.Context, service, proto, name string) (cname string, addrs []*net.SRV, err error)
}

// Server is one place to send a server's federation requests to.
type Server struct {
	// Addr is the host:port to connect to. The host may still be a DNS name, resolved with
	// AAAA/A records when dialing.
	Addr string
	// Host is the value of the HTTP Host header.
	Host string
	// TLSServerName is the name the server's certificate must be valid for (and the SNI to
	// send, unless it is an IP address).
	TLSServerName string
}

// Resolver resolves server names and caches what it learns. The zero value is not usable;
// build it with New. It is safe for concurrent use.
type Resolver struct {
	dns        DNS
	httpClient *http.Client
	opts       Options

	mu        sync.Mutex
	wellKnown map[string]wellKnownEntry
	srv       map[string]srvEntry
	// wellKnownInflight holds a channel, closed when done, per host being looked up.
	wellKnownInflight map[string]chan struct{}
}

// Options tunes a Resolver. Zero values get the spec's recommendations.
type Options struct {
	// WellKnownScheme is the scheme of the /.well-known request: "https" (default), or
	// "http" for tests.
	WellKnownScheme string
	// WellKnownDefaultTTL is how long a response without cache headers is kept (24h).
	WellKnownDefaultTTL time.Duration
	// WellKnownMaxTTL caps any response's cache time (48h).
	WellKnownMaxTTL time.Duration
	// WellKnownErrorTTL is how long a failed lookup is remembered (1h).
	WellKnownErrorTTL time.Duration
	// WellKnownMaxSize is the largest /.well-known body read (50 KiB).
	WellKnownMaxSize int64
	// WellKnownTimeout bounds one /.well-known lookup, redirects included (10s).
	WellKnownTimeout time.Duration
	// SRVTTL is how long SRV answers (found or not) are kept (1h); Go's resolver does not
	// report record TTLs.
	SRVTTL time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

type wellKnownEntry struct {
	delegated string // "" when the lookup failed
	expires   time.Time
}

type srvEntry struct {
	records []*net.SRV // nil when none were found
	expires time.Time
}

// New builds a Resolver. A nil dns means net.DefaultResolver; a nil client means a client
// with http.DefaultTransport. Redirects are followed (at most 10, no loops).
func New(dns DNS, client *http.Client, opts Options) *Resolver {
	if dns == nil {
		dns = net.DefaultResolver
	}
	if client == nil {
		client = &http.Client{}
	}
	c := *client
	c.CheckRedirect = checkRedirect
	if opts.WellKnownScheme == "" {
		opts.WellKnownScheme = "https"
	}
	if opts.WellKnownDefaultTTL == 0 {
		opts.WellKnownDefaultTTL = 24 * time.Hour
	}
	if opts.WellKnownMaxTTL == 0 {
		opts.WellKnownMaxTTL = 48 * time.Hour
	}
	if opts.WellKnownErrorTTL == 0 {
		opts.WellKnownErrorTTL = time.Hour
	}
	if opts.WellKnownMaxSize == 0 {
		opts.WellKnownMaxSize = 50 << 10
	}
	if opts.WellKnownTimeout == 0 {
		opts.WellKnownTimeout = 10 * time.Second
	}
	if opts.SRVTTL == 0 {
		opts.SRVTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Resolver{dns: dns, httpClient: &c, opts: opts,
		wellKnown: map[string]wellKnownEntry{}, srv: map[string]srvEntry{}, wellKnownInflight: map[string]chan struct{}{}}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("too many redirects")
	}
	for _, v := range via {
		if v.URL.String() == req.URL.String() {
			return errors.New("redirect loop")
		}
	}
	return nil
}

// Resolve returns where to send requests for serverName, best first. It fails only for an
// invalid server name or a context error; a name that DNS does not know still resolves (to
// host:8448) and fails when dialed.
func (r *Resolver) Resolve(ctx context.Context, serverName string) ([]Server, error) {
	host, port, err := matrix.ParseServerName(serverName)
	if err != nil {
		return nil, err
	}
	// Step 1: IP literal.
	if ip := bareIP(host); ip != "" {
		return []Server{{Addr: net.JoinHostPort(ip, portOr(port)), Host: serverName, TLSServerName: ip}}, nil
	}
	// Step 2: explicit port.
	if port != 0 {
		return []Server{{Addr: net.JoinHostPort(host, strconv.Itoa(port)), Host: serverName, TLSServerName: host}}, nil
	}
	// Step 3: /.well-known delegation.
	if delegated := r.lookupWellKnown(ctx, host); delegated != "" {
		dhost, dport, err := matrix.ParseServerName(delegated)
		if err == nil {
			if ip := bareIP(dhost); ip != "" {
				return []Server{{Addr: net.JoinHostPort(ip, portOr(dport)), Host: delegated, TLSServerName: ip}}, nil
			}
			if dport != 0 {
				return []Server{{Addr: net.JoinHostPort(dhost, strconv.Itoa(dport)), Host: delegated, TLSServerName: dhost}}, nil
			}
			return r.srvOrDefault(ctx, dhost)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Steps 4 and 5: SRV on the server name itself, then host:8448.
	return r.srvOrDefault(ctx, host)
}

// srvOrDefault looks up _matrix-fed._tcp.<host>, then _matrix._tcp.<host>; without any,
// host:8448. Host header and certificate name stay <host>.
func (r *Resolver) srvOrDefault(ctx context.Context, host string) ([]Server, error) {
	for _, service := range []string{"matrix-fed", "matrix"} {
		records := r.lookupSRV(ctx, service, host)
		if len(records) == 0 {
			continue
		}
		var out []Server
		for _, rec := range records {
			target := strings.TrimSuffix(rec.Target, ".")
			if target == "" { // "." means the service is decidedly not offered here
				continue
			}
			out = append(out, Server{Addr: net.JoinHostPort(target, strconv.Itoa(int(rec.Port))), Host: host, TLSServerName: host})
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return []Server{{Addr: net.JoinHostPort(host, strconv.Itoa(DefaultPort)), Host: host, TLSServerName: host}}, nil
}

func (r *Resolver) lookupSRV(ctx context.Context, service, host string) []*net.SRV {
	key := service + "\x00" + host
	now := r.opts.Now()
	r.mu.Lock()
	e, ok := r.srv[key]
	r.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.records
	}
	_, records, err := r.dns.LookupSRV(ctx, service, "tcp", host)
	if err != nil {
		if ctx.Err() != nil {
			return nil // do not cache a lookup we gave up on
		}
		records = nil
	}
	r.mu.Lock()
	r.srv[key] = srvEntry{records: records, expires: now.Add(r.opts.SRVTTL)}
	r.mu.Unlock()
	return records
}

// Forget drops everything cached about serverName's host, e.g. after its delegation failed.
func (r *Resolver) Forget(serverName string) {
	host, _, err := matrix.ParseServerName(serverName)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.wellKnown, host)
	for _, s := range []string{"matrix-fed", "matrix"} {
		delete(r.srv, s+"\x00"+host)
	}
}

func bareIP(host string) string {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if net.ParseIP(h) != nil {
		return h
	}
	return ""
}

func portOr(port int) string {
	if port == 0 {
		port = DefaultPort
	}
	return strconv.Itoa(port)
}

// String is for logs.
func (s Server) String() string {
	return fmt.Sprintf("%s (Host %s, TLS %s)", s.Addr, s.Host, s.TLSServerName)
}
