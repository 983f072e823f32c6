package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDNS answers SRV lookups from a map keyed "_service._proto.name".
type fakeDNS struct {
	mu      sync.Mutex
	records map[string][]*net.SRV
	calls   int
}

func (d *fakeDNS) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	key := "_" + service + "._" + proto + "." + name
	if r, ok := d.records[key]; ok {
		return key, r, nil
	}
	return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
}

// wellKnownServer serves /.well-known/matrix/server per Host header from handlers, and
// counts requests per host. Its client dials the server whatever the host.
type wellKnownServer struct {
	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	hits     map[string]int
	srv      *httptest.Server
}

func newWellKnownServer(t *testing.T, handlers map[string]http.HandlerFunc) (*wellKnownServer, *http.Client) {
	w := &wellKnownServer{handlers: handlers, hits: map[string]int{}}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		host := r.Host
		w.mu.Lock()
		w.hits[host]++
		h := w.handlers[host]
		w.mu.Unlock()
		if h == nil || r.URL.Path != "/.well-known/matrix/server" && !strings.HasPrefix(r.URL.Path, "/redirect") {
			http.NotFound(rw, r)
			return
		}
		h(rw, r)
	}))
	t.Cleanup(w.srv.Close)
	addr := w.srv.Listener.Addr().String()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	return w, client
}

func (w *wellKnownServer) count(host string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hits[host]
}

func body(s string, headers ...string) http.HandlerFunc {
	return func(rw http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			rw.Header().Set(headers[i], headers[i+1])
		}
		fmt.Fprint(rw, s)
	}
}

func TestResolve(t *testing.T) {
	dns := &fakeDNS{records: map[string][]*net.SRV{
		"_matrix-fed._tcp.srv.example":    {{Target: "fed1.example.", Port: 1111, Priority: 1}, {Target: "fed2.example.", Port: 2222, Priority: 2}},
		"_matrix._tcp.oldsrv.example":     {{Target: "old.example.", Port: 3333}},
		"_matrix-fed._tcp.target.example": {{Target: "t.example.", Port: 4444}},
		"_matrix._tcp.both.example":       {{Target: "legacy.example.", Port: 1}},
		"_matrix-fed._tcp.both.example":   {{Target: "new.example.", Port: 2}},
		"_matrix-fed._tcp.dot.example":    {{Target: ".", Port: 0}},
	}}
	_, client := newWellKnownServer(t, map[string]http.HandlerFunc{
		"wk-ip.example":      body(`{"m.server":"10.1.2.3"}`),
		"wk-ipport.example":  body(`{"m.server":"[::1]:9000"}`),
		"wk-port.example":    body(`{"m.server":"target.example:8000"}`),
		"wk-srv.example":     body(`{"m.server":"target.example"}`),
		"wk-nosrv.example":   body(`{"m.server":"plain.example"}`),
		"wk-badjson.example": body(`{"m.server":`),
		"wk-badname.example": body(`{"m.server":"bad name"}`),
		"wk-missing.example": body(`{"other":1}`),
		"wk-big.example":     body(`{"m.server":"plain.example","pad":"` + strings.Repeat("x", 60<<10) + `"}`),
		"wk-500.example":     func(rw http.ResponseWriter, _ *http.Request) { http.Error(rw, "no", 500) },
		"wk-redir.example": func(rw http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/.well-known/matrix/server" {
				http.Redirect(rw, r, "/redirect/final", http.StatusFound)
				return
			}
			fmt.Fprint(rw, `{"m.server":"redirected.example:7000"}`)
		},
		"wk-loop.example": func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, "/.well-known/matrix/server", http.StatusFound)
		},
	})
	r := New(dns, client, Options{WellKnownScheme: "http"})
	s := func(addr, host, tls string) Server { return Server{Addr: addr, Host: host, TLSServerName: tls} }
	tests := []struct {
		name    string
		server  string
		want    []Server
		wantErr bool
	}{
		{"IPv4 literal", "1.2.3.4", []Server{s("1.2.3.4:8448", "1.2.3.4", "1.2.3.4")}, false},
		{"IPv4 literal with port", "1.2.3.4:99", []Server{s("1.2.3.4:99", "1.2.3.4:99", "1.2.3.4")}, false},
		{"IPv6 literal with port", "[::1]:99", []Server{s("[::1]:99", "[::1]:99", "::1")}, false},
		{"explicit port", "srv.example:1234", []Server{s("srv.example:1234", "srv.example:1234", "srv.example")}, false},
		{"well-known to IP", "wk-ip.example", []Server{s("10.1.2.3:8448", "10.1.2.3", "10.1.2.3")}, false},
		{"well-known to IPv6 with port", "wk-ipport.example", []Server{s("[::1]:9000", "[::1]:9000", "::1")}, false},
		{"well-known with port", "wk-port.example", []Server{s("target.example:8000", "target.example:8000", "target.example")}, false},
		{"well-known then SRV", "wk-srv.example", []Server{s("t.example:4444", "target.example", "target.example")}, false},
		{"well-known, no SRV", "wk-nosrv.example", []Server{s("plain.example:8448", "plain.example", "plain.example")}, false},
		{"well-known redirect", "wk-redir.example", []Server{s("redirected.example:7000", "redirected.example:7000", "redirected.example")}, false},
		{"redirect loop falls back", "wk-loop.example", []Server{s("wk-loop.example:8448", "wk-loop.example", "wk-loop.example")}, false},
		{"bad JSON falls back", "wk-badjson.example", []Server{s("wk-badjson.example:8448", "wk-badjson.example", "wk-badjson.example")}, false},
		{"bad m.server falls back", "wk-badname.example", []Server{s("wk-badname.example:8448", "wk-badname.example", "wk-badname.example")}, false},
		{"missing m.server falls back", "wk-missing.example", []Server{s("wk-missing.example:8448", "wk-missing.example", "wk-missing.example")}, false},
		{"too large falls back", "wk-big.example", []Server{s("wk-big.example:8448", "wk-big.example", "wk-big.example")}, false},
		{"500 falls back", "wk-500.example", []Server{s("wk-500.example:8448", "wk-500.example", "wk-500.example")}, false},
		{"SRV matrix-fed, in priority order", "srv.example", []Server{s("fed1.example:1111", "srv.example", "srv.example"), s("fed2.example:2222", "srv.example", "srv.example")}, false},
		{"deprecated _matrix SRV", "oldsrv.example", []Server{s("old.example:3333", "oldsrv.example", "oldsrv.example")}, false},
		{"matrix-fed wins over _matrix", "both.example", []Server{s("new.example:2", "both.example", "both.example")}, false},
		{"SRV '.' ignored", "dot.example", []Server{s("dot.example:8448", "dot.example", "dot.example")}, false},
		{"nothing: port 8448", "plain.example", []Server{s("plain.example:8448", "plain.example", "plain.example")}, false},
		{"invalid server name", "bad name", nil, true},
		{"invalid port", "x.example:99999", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Resolve(context.Background(), tt.server)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWellKnownCaching(t *testing.T) {
	ok := `{"m.server":"d.example:1"}`
	httpDate := func(d time.Duration) string {
		return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(d).Format(http.TimeFormat)
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		// cachedUntil: a lookup just before this is served from cache, one at it refetches.
		cachedUntil time.Duration
	}{
		{"default 24h", body(ok), 24 * time.Hour},
		{"max-age", body(ok, "Cache-Control", "public, max-age=600"), 10 * time.Minute},
		{"max-age capped at 48h", body(ok, "Cache-Control", "max-age=9999999"), 48 * time.Hour},
		{"Expires", body(ok, "Expires", httpDate(3*time.Hour)), 3 * time.Hour},
		{"Expires capped", body(ok, "Expires", httpDate(100*time.Hour)), 48 * time.Hour},
		{"max-age beats Expires", body(ok, "Cache-Control", "max-age=60", "Expires", httpDate(3*time.Hour)), time.Minute},
		{"error cached 1h", func(rw http.ResponseWriter, _ *http.Request) { http.NotFound(rw, nil) }, time.Hour},
		{"bad body cached 1h", body(`[]`, "Cache-Control", "max-age=99999"), time.Hour},
		{"no-store not cached", body(ok, "Cache-Control", "no-store"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wk, client := newWellKnownServer(t, map[string]http.HandlerFunc{"h.example": tt.handler})
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			r := New(&fakeDNS{}, client, Options{WellKnownScheme: "http", Now: func() time.Time { return now }})
			resolve := func() {
				if _, err := r.Resolve(context.Background(), "h.example"); err != nil {
					t.Fatal(err)
				}
			}
			resolve()
			if wk.count("h.example") != 1 {
				t.Fatalf("first lookup made %d requests", wk.count("h.example"))
			}
			if tt.cachedUntil > 0 {
				now = now.Add(tt.cachedUntil - time.Second)
				resolve()
				if wk.count("h.example") != 1 {
					t.Fatalf("lookup within the cache time refetched")
				}
				now = now.Add(time.Second)
			}
			resolve()
			if wk.count("h.example") != 2 {
				t.Fatalf("lookup after the cache time: %d requests, want 2", wk.count("h.example"))
			}
		})
	}
}

func TestSRVCacheAndForget(t *testing.T) {
	dns := &fakeDNS{records: map[string][]*net.SRV{"_matrix-fed._tcp.s.example": {{Target: "a.example.", Port: 1}}}}
	_, client := newWellKnownServer(t, nil)
	now := time.Unix(1e9, 0)
	r := New(dns, client, Options{WellKnownScheme: "http", Now: func() time.Time { return now }})
	for i := 0; i < 3; i++ {
		if _, err := r.Resolve(context.Background(), "s.example"); err != nil {
			t.Fatal(err)
		}
	}
	if dns.calls != 1 {
		t.Fatalf("SRV looked up %d times, want 1 (cached)", dns.calls)
	}
	now = now.Add(time.Hour)
	r.Resolve(context.Background(), "s.example")
	if dns.calls != 2 {
		t.Fatalf("SRV not looked up again after its TTL: %d", dns.calls)
	}
	r.Forget("s.example")
	r.Resolve(context.Background(), "s.example")
	if dns.calls != 3 {
		t.Fatalf("Forget kept the SRV answer: %d", dns.calls)
	}
}

func TestResolveCancelled(t *testing.T) {
	_, client := newWellKnownServer(t, map[string]http.HandlerFunc{"slow.example": func(rw http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}})
	r := New(&fakeDNS{}, client, Options{WellKnownScheme: "http"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Resolve(ctx, "slow.example"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	// The abandoned lookup is not cached as an error.
	r.mu.Lock()
	_, cached := r.wellKnown["slow.example"]
	r.mu.Unlock()
	if cached {
		t.Fatal("a cancelled lookup was cached")
	}
}

func TestConcurrentWellKnownLookupsShareOneRequest(t *testing.T) {
	release := make(chan struct{})
	wk, client := newWellKnownServer(t, map[string]http.HandlerFunc{"c.example": func(rw http.ResponseWriter, _ *http.Request) {
		<-release
		fmt.Fprint(rw, `{"m.server":"d.example:5"}`)
	}})
	r := New(&fakeDNS{}, client, Options{WellKnownScheme: "http"})
	var wg sync.WaitGroup
	results := make([][]Server, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = r.Resolve(context.Background(), "c.example")
		}()
	}
	for wk.count("c.example") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := wk.count("c.example"); n != 1 {
		t.Fatalf("%d well-known requests, want 1", n)
	}
	for _, res := range results {
		if len(res) != 1 || res[0].Addr != "d.example:5" {
			t.Fatalf("result %v", res)
		}
	}
}
