package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeDNS answers lookups of one name with the addresses set last (or an error).
type fakeDNS struct {
	mu    sync.Mutex
	addrs []netip.Addr
	err   error
}

func (d *fakeDNS) set(err error, addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err, d.addrs = err, nil
	for _, a := range addrs {
		d.addrs = append(d.addrs, netip.MustParseAddr(a))
	}
}

func (d *fakeDNS) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if host != "sync-api" {
		return nil, errors.New("no such host " + host)
	}
	return d.addrs, d.err
}

// replicas starts one sync stand-in per loopback address, all on one port (Docker gives
// every replica its own address and the same port). It returns the port.
func replicas(t *testing.T, addrs ...string) int {
	t.Helper()
	var port int
	for i, a := range addrs {
		fu := &fakeUpstream{name: a}
		fu.healthy.Store(true)
		l, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(port)))
		if err != nil {
			if i > 0 {
				t.Skipf("cannot listen on %s (loopback aliases needed): %v", a, err)
			}
			t.Fatal(err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				return
			}
			_, _ = w.Write([]byte(`{"upstream":"` + a + `"}`))
		}))
		srv.Listener.Close()
		srv.Listener = l
		srv.Start()
		t.Cleanup(srv.Close)
	}
	return port
}

func TestDNSDiscovery(t *testing.T) {
	port := replicas(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	client := newUpstream(t, "client", nil)
	dns := &fakeDNS{}
	dns.set(errors.New("not yet"))
	syncURL := "http://sync-api:" + strconv.Itoa(port)
	p, err := New(Options{
		Upstreams:           map[Kind][]string{KindClient: {client.URL}, KindSync: {syncURL}},
		HealthCheckInterval: time.Hour,
		HealthCheckTimeout:  5 * time.Second,
		ConnectTimeout:      5 * time.Second,
		Registry:            prometheus.NewRegistry(),
		ResolveInterval:     time.Hour, // the test resolves itself
		Resolver:            dns.lookup,
	})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	ctx := context.Background()
	sync := front.URL + "/_matrix/client/v3/sync"
	addr := func(a string) string { return "http://" + a + ":" + strconv.Itoa(port) }

	// servedBy sends n token-less sync requests and counts who answered each.
	servedBy := func(n int) map[string]int {
		out := map[string]int{}
		for range n {
			code, _, b := do(t, http.MethodGet, sync, nil, nil)
			if code != http.StatusOK {
				out[strconv.Itoa(code)]++
				continue
			}
			out[strings.TrimSuffix(strings.TrimPrefix(string(b), `{"upstream":"`), `"}`)]++
		}
		return out
	}

	steps := []struct {
		name    string
		dnsErr  error
		addrs   []string
		changed bool
		want    []string // upstream names after the step, in order
		served  []string // who answers sync requests ("502": nobody)
	}{
		{"name does not resolve yet: configured, so 502, not 404", errors.New("not yet"), nil, false, nil, []string{"502"}},
		{"one replica", nil, []string{"127.0.0.2"}, true, []string{addr("127.0.0.2")}, []string{"127.0.0.2"}},
		{"scaled to three", nil, []string{"127.0.0.4", "127.0.0.2", "127.0.0.3"}, true,
			[]string{addr("127.0.0.2"), addr("127.0.0.3"), addr("127.0.0.4")}, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}},
		{"same answer: nothing changes", nil, []string{"127.0.0.3", "127.0.0.2", "127.0.0.4"}, false,
			[]string{addr("127.0.0.2"), addr("127.0.0.3"), addr("127.0.0.4")}, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}},
		{"lookup fails: keeps the addresses", errors.New("SERVFAIL"), nil, false,
			[]string{addr("127.0.0.2"), addr("127.0.0.3"), addr("127.0.0.4")}, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}},
		{"one replica gone", nil, []string{"127.0.0.2", "127.0.0.4"}, true,
			[]string{addr("127.0.0.2"), addr("127.0.0.4")}, []string{"127.0.0.2", "127.0.0.4"}},
	}
	for _, st := range steps {
		dns.set(st.dnsErr, st.addrs...)
		if got := p.Resolve(ctx); got != st.changed {
			t.Errorf("%s: Resolve changed = %v, want %v", st.name, got, st.changed)
		}
		p.CheckNow(ctx)
		var names []string
		for _, u := range p.pools[KindSync].list() {
			names = append(names, u.name)
		}
		if strings.Join(names, " ") != strings.Join(st.want, " ") {
			t.Fatalf("%s: upstreams %q, want %q", st.name, names, st.want)
		}
		got := servedBy(3 * len(st.served))
		for _, who := range st.served {
			if got[who] != 3 {
				t.Errorf("%s: served %v, want 3 each of %v", st.name, got, st.served)
				break
			}
		}
		// The gauges list exactly the current upstreams.
		for _, a := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
			line := metricLine(t, front.URL, `axon_proxy_upstream_healthy{kind="sync",upstream="`+addr(a)+`"}`)
			listed := strings.Contains(strings.Join(names, " "), addr(a))
			if listed != (line != "") || (listed && !strings.HasSuffix(line, " 1")) {
				t.Errorf("%s: %s listed %v but gauge %q", st.name, a, listed, line)
			}
		}
	}
	// The clientapi's URL is an IP literal: used as configured, never resolved.
	if ups := p.Upstreams()[KindClient]; len(ups) != 1 || !ups[client.URL] {
		t.Errorf("client upstreams %v, want %s healthy", ups, client.URL)
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		resolve bool
		dynamic bool
		port    uint16
		bad     bool
	}{
		{"http://sync-api:8072", true, true, 8072, false},
		{"http://sync-api:8072", false, false, 8072, false},
		{"http://sync-api", true, true, 80, false},
		{"https://sync.example.org", true, false, 443, false},
		{"http://10.0.0.5:8072", true, false, 8072, false},
		{"http://[::1]:8072", true, false, 8072, false},
		{"ftp://sync-api:8072", true, false, 0, true},
		{"sync-api:8072", true, false, 0, true},
		{"http://sync-api:99999", true, false, 0, true},
	} {
		s, err := parseSource(tc.raw, tc.resolve)
		if (err != nil) != tc.bad {
			t.Errorf("parseSource(%q): err %v, want bad=%v", tc.raw, err, tc.bad)
			continue
		}
		if err == nil && (s.dynamic != tc.dynamic || s.port != tc.port) {
			t.Errorf("parseSource(%q, %v) = dynamic %v port %d, want %v %d", tc.raw, tc.resolve, s.dynamic, s.port, tc.dynamic, tc.port)
		}
	}
}
