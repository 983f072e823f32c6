package keyring

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/federation/discovery"
	"github.com/axon-matrix/axon/matrix/signing"
)

// now is the fixed clock of these tests.
var now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func ms(t time.Time) int64 { return t.UnixMilli() }

func key(t *testing.T, version string) signing.SigningKey {
	t.Helper()
	seed := make([]byte, 32)
	copy(seed, version)
	k, err := signing.KeyFromSeed(signing.NewKeyID(version), seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyResponse is a /_matrix/key/v2/server answer under construction.
type keyResponse struct {
	server     string
	current    []signing.SigningKey
	old        []oldKey
	validUntil int64
	signers    []signing.SigningKey // signs as server (default: current)
	omitValid  bool
}

func (r keyResponse) json(t *testing.T) []byte {
	t.Helper()
	vk := map[string]any{}
	for _, k := range r.current {
		vk[string(k.ID)] = map[string]string{"key": signing.EncodeBase64(k.Public())}
	}
	ok := map[string]any{}
	for _, o := range r.old {
		ok[string(o.key.ID)] = map[string]any{"key": signing.EncodeBase64(o.key.Public()), "expired_ts": o.expiredTS}
	}
	obj := map[string]any{"server_name": r.server, "verify_keys": vk, "old_verify_keys": ok}
	if !r.omitValid {
		obj["valid_until_ts"] = r.validUntil
	}
	raw, _ := json.Marshal(obj)
	signers := r.signers
	if signers == nil {
		signers = r.current
	}
	for _, s := range signers {
		var err error
		if raw, err = signing.SignJSON(r.server, s.ID, s.Private, raw); err != nil {
			t.Fatal(err)
		}
	}
	return raw
}

type oldKey struct {
	key       signing.SigningKey
	expiredTS int64
}

// keyServers is one loopback HTTP server answering for many server names (by Host
// header): their own key responses, and notary queries.
type keyServers struct {
	mu      sync.Mutex
	own     map[string][]byte                                      // server → its /_matrix/key/v2/server body
	notary  func(req federation.KeyQueryRequest) []json.RawMessage // for any notary
	hits    map[string]int
	block   chan struct{} // if set, key requests wait on it
	srv     *httptest.Server
	queries []federation.KeyQueryRequest
}

func newKeyServers(t *testing.T) *keyServers {
	ks := &keyServers{own: map[string][]byte{}, hits: map[string]int{}}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		ks.hits[r.Host+" "+r.URL.Path]++
		block, body, notary := ks.block, ks.own[r.Host], ks.notary
		ks.mu.Unlock()
		if block != nil {
			<-block
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/_matrix/key/v2/server" && body != nil:
			w.Write(body)
		case r.URL.Path == "/_matrix/key/v2/query" && notary != nil:
			var q federation.KeyQueryRequest
			raw, _ := io.ReadAll(r.Body)
			json.Unmarshal(raw, &q)
			ks.mu.Lock()
			ks.queries = append(ks.queries, q)
			ks.mu.Unlock()
			json.NewEncoder(w).Encode(map[string]any{"server_keys": notary(q)})
		default:
			w.WriteHeader(404)
			io.WriteString(w, `{"errcode":"M_NOT_FOUND","error":"no"}`)
		}
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

func (ks *keyServers) set(server string, body []byte) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.own[server] = body
}

func (ks *keyServers) count(server, path string) int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.hits[server+":8448 "+path] + ks.hits[server+" "+path]
}

type noDNS struct{}

func (noDNS) LookupSRV(context.Context, string, string, string) (string, []*net.SRV, error) {
	return "", nil, &net.DNSError{Err: "no such host", IsNotFound: true}
}

// client is a federation client as ours.example that reaches every name on ks.
func (ks *keyServers) client(t *testing.T) *federation.Client {
	failing := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("no well-known") })}
	addr := ks.srv.Listener.Addr().String()
	return federation.NewClient("ours.example", key(t, "ours"), discovery.New(noDNS{}, failing, discovery.Options{}),
		federation.ClientOptions{Transport: federation.TransportOptions{Scheme: "http",
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func clock() func() time.Time { return func() time.Time { return now } }

func TestDirectFetchValidation(t *testing.T) {
	k1, k2 := key(t, "k1"), key(t, "k2")
	valid := ms(now.Add(time.Hour))
	tests := []struct {
		name  string
		body  func(t *testing.T) []byte
		found bool
	}{
		{"self-signed", keyResponse{server: "s.example", current: []signing.SigningKey{k1}, validUntil: valid}.json, true},
		{"two keys, both sign", keyResponse{server: "s.example", current: []signing.SigningKey{k1, k2}, validUntil: valid}.json, true},
		{"other server name", keyResponse{server: "evil.example", current: []signing.SigningKey{k1}, validUntil: valid}.json, false},
		{"signed by an unlisted key only", keyResponse{server: "s.example", current: []signing.SigningKey{k1}, validUntil: valid, signers: []signing.SigningKey{k2}}.json, false},
		{"unsigned", keyResponse{server: "s.example", current: []signing.SigningKey{k1}, validUntil: valid, signers: []signing.SigningKey{}}.json, false},
		{"no valid_until_ts", keyResponse{server: "s.example", current: []signing.SigningKey{k1}, omitValid: true}.json, false},
		{"tampered after signing", func(t *testing.T) []byte {
			raw := keyResponse{server: "s.example", current: []signing.SigningKey{k1}, validUntil: valid}.json(t)
			return []byte(strings.Replace(string(raw), `"valid_until_ts":`, `"valid_until_ts":1`, 1))
		}, false},
		{"one of two signatures bad", func(t *testing.T) []byte {
			raw := keyResponse{server: "s.example", current: []signing.SigningKey{k1, k2}, validUntil: valid}.json(t)
			var obj map[string]any
			json.Unmarshal(raw, &obj)
			sigs := obj["signatures"].(map[string]any)["s.example"].(map[string]any)
			sigs[string(k2.ID)] = sigs[string(k1.ID)]
			raw, _ = json.Marshal(obj)
			return raw
		}, false},
		{"not JSON", func(*testing.T) []byte { return []byte(`{`) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := newKeyServers(t)
			ks.set("s.example", tt.body(t))
			ring := New(Options{Now: clock()}, DirectFetcher{Client: ks.client(t)})
			keys, err := ring.Keys(context.Background(), map[Request]int64{{"s.example", k1.ID}: 0})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := keys[Request{"s.example", k1.ID}]
			if ok != tt.found {
				t.Fatalf("found = %v, want %v", ok, tt.found)
			}
			if ok && !got.Key.Equal(k1.Public()) {
				t.Fatal("wrong key")
			}
		})
	}
}

func TestNotaryFetchValidation(t *testing.T) {
	origin, notaryKey, other := key(t, "origin"), key(t, "notary"), key(t, "other")
	valid := ms(now.Add(time.Hour))
	notarise := func(t *testing.T, resp keyResponse, by ...signing.SigningKey) json.RawMessage {
		raw := resp.json(t)
		for _, k := range by {
			var err error
			if raw, err = signing.SignJSON("notary.example", k.ID, k.Private, raw); err != nil {
				t.Fatal(err)
			}
		}
		return raw
	}
	good := keyResponse{server: "s.example", current: []signing.SigningKey{origin}, validUntil: valid}
	tests := []struct {
		name  string
		resp  func(t *testing.T) []json.RawMessage
		found bool
	}{
		{"origin and notary signed", func(t *testing.T) []json.RawMessage { return []json.RawMessage{notarise(t, good, notaryKey)} }, true},
		{"no notary signature", func(t *testing.T) []json.RawMessage { return []json.RawMessage{notarise(t, good)} }, false},
		{"notary key not pinned", func(t *testing.T) []json.RawMessage { return []json.RawMessage{notarise(t, good, other)} }, false},
		{"origin signature forged", func(t *testing.T) []json.RawMessage {
			forged := good
			forged.signers = []signing.SigningKey{other}
			forged.current = []signing.SigningKey{origin}
			return []json.RawMessage{notarise(t, forged, notaryKey)}
		}, false},
		{"keys of a server not asked for", func(t *testing.T) []json.RawMessage {
			r := good
			r.server = "x.example"
			return []json.RawMessage{notarise(t, r, notaryKey)}
		}, false},
		{"empty answer", func(*testing.T) []json.RawMessage { return nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := newKeyServers(t)
			resp := tt.resp(t)
			ks.notary = func(federation.KeyQueryRequest) []json.RawMessage { return resp }
			ring := New(Options{Now: clock()}, NotaryFetcher{Client: ks.client(t), ServerName: "notary.example",
				Keys: map[signing.KeyID]ed25519.PublicKey{notaryKey.ID: notaryKey.Public()}})
			r := Request{"s.example", origin.ID}
			keys, err := ring.Keys(context.Background(), map[Request]int64{r: ms(now)})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := keys[r]; ok != tt.found {
				t.Fatalf("found = %v, want %v", ok, tt.found)
			}
			q := ks.queries[0].ServerKeys["s.example"][origin.ID]
			if q.MinimumValidUntilTS != ms(now) {
				t.Fatalf("query criteria %+v", ks.queries[0])
			}
		})
	}
}

func TestFallbackToNotaryAndValidityCap(t *testing.T) {
	origin, notaryKey := key(t, "origin"), key(t, "notary")
	ks := newKeyServers(t) // s.example itself is down: 404
	ks.notary = func(federation.KeyQueryRequest) []json.RawMessage {
		raw := keyResponse{server: "s.example", current: []signing.SigningKey{origin}, validUntil: ms(now.Add(30 * 24 * time.Hour))}.json(t)
		raw, _ = signing.SignJSON("notary.example", notaryKey.ID, notaryKey.Private, raw)
		return []json.RawMessage{raw}
	}
	c := ks.client(t)
	ring := New(Options{Now: clock()}, DirectFetcher{Client: c},
		NotaryFetcher{Client: c, ServerName: "notary.example", Keys: map[signing.KeyID]ed25519.PublicKey{notaryKey.ID: notaryKey.Public()}})
	r := Request{"s.example", origin.ID}
	keys, err := ring.Keys(context.Background(), map[Request]int64{r: 0})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := keys[r]
	if !ok || got.ValidUntilTS != ms(now.Add(MaxKeyValidity)) {
		t.Fatalf("key %+v (found %v), want validity capped at 7 days", got, ok)
	}
	if ks.count("s.example", "/_matrix/key/v2/server") != 1 || len(ks.queries) != 1 {
		t.Fatal("direct fetch not tried first, or notary not asked")
	}
}

func TestConcurrentLookupsCoalesce(t *testing.T) {
	k1 := key(t, "k1")
	ks := newKeyServers(t)
	ks.set("s.example", keyResponse{server: "s.example", current: []signing.SigningKey{k1}, validUntil: ms(now.Add(time.Hour))}.json(t))
	ks.block = make(chan struct{})
	ring := New(Options{Now: clock()}, DirectFetcher{Client: ks.client(t)})
	var wg sync.WaitGroup
	var found atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys, err := ring.Keys(context.Background(), map[Request]int64{{"s.example", k1.ID}: ms(now)})
			if err == nil && len(keys) == 1 {
				found.Add(1)
			}
		}()
	}
	// Let the lookups pile up behind the first fetch, then release it.
	deadline := time.Now().Add(5 * time.Second)
	for ks.count("s.example", "/_matrix/key/v2/server") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	ks.mu.Lock()
	close(ks.block)
	ks.block = nil
	ks.mu.Unlock()
	wg.Wait()
	if n := ks.count("s.example", "/_matrix/key/v2/server"); n != 1 {
		t.Fatalf("%d fetches for one server, want 1", n)
	}
	if found.Load() != 20 {
		t.Fatalf("%d of 20 lookups found the key", found.Load())
	}
}

// mapStore is an in-memory Store.
type mapStore struct {
	mu   sync.Mutex
	keys map[Request]PublicKey
}

func (s *mapStore) LoadKeys(_ context.Context, reqs []Request) (map[Request]PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Request]PublicKey{}
	for _, r := range reqs {
		if k, ok := s.keys[r]; ok {
			out[r] = k
		}
	}
	return out, nil
}

func (s *mapStore) StoreKeys(_ context.Context, keys []PublicKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.keys[Request{k.ServerName, k.KeyID}] = k
	}
	return nil
}

func TestStoreAndFetchInterval(t *testing.T) {
	k1, old := key(t, "k1"), key(t, "old")
	ks := newKeyServers(t)
	ks.set("s.example", keyResponse{server: "s.example", current: []signing.SigningKey{k1},
		old: []oldKey{{old, ms(now.Add(-time.Hour))}}, validUntil: ms(now.Add(time.Hour))}.json(t))
	store := &mapStore{keys: map[Request]PublicKey{}}
	ring := New(Options{Now: clock(), Store: store}, DirectFetcher{Client: ks.client(t)})
	ctx := context.Background()
	if _, err := ring.Keys(ctx, map[Request]int64{{"s.example", k1.ID}: 0}); err != nil {
		t.Fatal(err)
	}
	if len(store.keys) != 2 || !store.keys[Request{"s.example", old.ID}].Expired {
		t.Fatalf("store holds %+v", store.keys)
	}
	// An unknown key of the same server right after a fetch: no new request.
	keys, _ := ring.Keys(ctx, map[Request]int64{{"s.example", "ed25519:nope"}: 0})
	if len(keys) != 0 || ks.count("s.example", "/_matrix/key/v2/server") != 1 {
		t.Fatalf("refetched within MinFetchInterval (%d fetches)", ks.count("s.example", "/_matrix/key/v2/server"))
	}
	// A new ring on the same store needs no fetch.
	ring2 := New(Options{Now: clock(), Store: store})
	keys, err := ring2.Keys(ctx, map[Request]int64{{"s.example", k1.ID}: ms(now)})
	if err != nil || len(keys) != 1 {
		t.Fatalf("store lookup: %v, %v", keys, err)
	}
}

func TestRequestKeyLookup(t *testing.T) {
	cur, old, stale := key(t, "cur"), key(t, "old"), key(t, "stale")
	ring := New(Options{Now: clock()})
	ring.merge([]PublicKey{
		{ServerName: "s.example", KeyID: cur.ID, Key: cur.Public(), ValidUntilTS: ms(now.Add(time.Hour))},
		{ServerName: "s.example", KeyID: old.ID, Key: old.Public(), ValidUntilTS: ms(now.Add(time.Hour)), Expired: true},
		{ServerName: "s.example", KeyID: stale.ID, Key: stale.Public(), ValidUntilTS: ms(now.Add(-time.Second))},
	})
	lookup := ring.RequestKeyLookup()
	tests := []struct {
		id      signing.KeyID
		wantErr bool
	}{{cur.ID, false}, {old.ID, true}, {stale.ID, true}, {"ed25519:unknown", true}}
	for _, tt := range tests {
		t.Run(string(tt.id), func(t *testing.T) {
			_, err := lookup(context.Background(), "s.example", tt.id)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
	// End to end with X-Matrix.
	x, _ := federation.RequestToSign{Method: "GET", URI: "/_matrix/federation/v1/version", Origin: "s.example", Destination: "ours.example"}.Sign(cur.ID, cur.Private)
	if origin, err := federation.VerifyRequest(context.Background(), "GET", "/_matrix/federation/v1/version", "ours.example", []string{x.String()}, nil, lookup); err != nil || origin != "s.example" {
		t.Fatalf("VerifyRequest = %q, %v", origin, err)
	}
}

func buildEvent(t *testing.T, version string, signer signing.SigningKey, ts int64) *event.Event {
	t.Helper()
	sk := ""
	b := event.Builder{Type: "m.room.create", StateKey: &sk, Sender: "@a:s.example", RoomID: "!r:s.example",
		Content: map[string]any{"room_version": version}, Depth: 1, OriginServerTS: ts}
	e, err := b.Build(matrix.RoomVersionID(version), "s.example", signer.ID, signer.Private)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestVerifyEventSignatures(t *testing.T) {
	cur, old, unknown := key(t, "cur"), key(t, "old"), key(t, "unknown")
	expired := ms(now.Add(-24 * time.Hour))
	validUntil := ms(now.Add(time.Hour))
	ks := newKeyServers(t)
	ks.set("s.example", keyResponse{server: "s.example", current: []signing.SigningKey{cur},
		old: []oldKey{{old, expired}}, validUntil: validUntil}.json(t))
	start := time.Now()
	advancing := func() time.Time { return now.Add(time.Since(start)) }
	ring := New(Options{Now: advancing, MinFetchInterval: time.Nanosecond}, DirectFetcher{Client: ks.client(t)})

	tests := []struct {
		name    string
		event   *event.Event
		wantErr bool
	}{
		{"current key", buildEvent(t, "10", cur, ms(now)), false},
		{"old key before expired_ts", buildEvent(t, "10", old, expired-1), false},
		{"old key after expired_ts (v5+)", buildEvent(t, "10", old, expired+1), true},
		{"old key after expired_ts (v4 ignores validity)", buildEvent(t, "4", old, expired+1), false},
		{"unknown key", buildEvent(t, "10", unknown, ms(now)), true},
	}
	events := make([]*event.Event, len(tests))
	for i, tt := range tests {
		events[i] = tt.event
	}
	results, err := ring.VerifyEventSignatures(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (results[i] != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", results[i], tt.wantErr)
			}
			var se *event.SignatureError
			if results[i] != nil && !errors.As(results[i], &se) {
				t.Fatalf("error %T is not *event.SignatureError", results[i])
			}
		})
	}

	// An event after the cached key's validity makes the ring refetch; the server has
	// renewed the key meanwhile.
	later := buildEvent(t, "10", cur, validUntil+1000)
	before := ks.count("s.example", "/_matrix/key/v2/server")
	results, _ = ring.VerifyEventSignatures(context.Background(), []*event.Event{later})
	if results[0] == nil {
		t.Fatal("event after the key's validity accepted without renewal")
	}
	if ks.count("s.example", "/_matrix/key/v2/server") == before {
		t.Fatal("no refetch for a key valid too briefly")
	}
	ks.set("s.example", keyResponse{server: "s.example", current: []signing.SigningKey{cur}, validUntil: ms(now.Add(48 * time.Hour))}.json(t))
	results, _ = ring.VerifyEventSignatures(context.Background(), []*event.Event{later})
	if results[0] != nil {
		t.Fatalf("after renewal: %v", results[0])
	}
	// The per-event lookup works the same for cached keys.
	if err := event.VerifyEventSignatures(context.Background(), later, ring.EventKeyLookup()); err != nil {
		t.Fatal(err)
	}
}

func TestCancelledCallerDoesNotFailOthers(t *testing.T) {
	k1 := key(t, "k1")
	ks := newKeyServers(t)
	ks.set("s.example", keyResponse{server: "s.example", current: []signing.SigningKey{k1}, validUntil: ms(now.Add(time.Hour))}.json(t))
	ks.block = make(chan struct{})
	ring := New(Options{Now: clock()}, DirectFetcher{Client: ks.client(t)})
	r := Request{"s.example", k1.ID}

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := ring.Keys(ctx, map[Request]int64{r: 0}); first <- err }()
	for ks.count("s.example", "/_matrix/key/v2/server") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	second := make(chan map[Request]PublicKey, 1)
	go func() { keys, _ := ring.Keys(context.Background(), map[Request]int64{r: 0}); second <- keys }()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	ks.mu.Lock()
	close(ks.block)
	ks.block = nil
	ks.mu.Unlock()
	if keys := <-second; len(keys) != 1 {
		t.Fatal("the waiting caller lost the shared fetch")
	}
}

func TestNotFoundNamesTheFetchError(t *testing.T) {
	ks := newKeyServers(t) // every key request: 404 M_NOT_FOUND
	ring := New(Options{Now: clock()}, DirectFetcher{Client: ks.client(t)})
	_, err := ring.RequestKeyLookup()(context.Background(), "s.example", "ed25519:x")
	if !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), "M_NOT_FOUND") {
		t.Fatalf("err = %v", err)
	}
}
