package routing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/matrix/federation"
)

// fakeContacts records arrow 8's reports.
type fakeContacts struct {
	mu      sync.Mutex
	servers []string
}

func (f *fakeContacts) ServerContacted(_ context.Context, req *fsapi.ServerContactedRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.servers = append(f.servers, req.Server)
	return nil
}

func (f *fakeContacts) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.servers...)
}

// TestContactReported: an authenticated request reports its origin to the federationsender
// (arrow 8) once a minute at most; a refused request reports nothing.
func TestContactReported(t *testing.T) {
	e := newEnv(t)
	f := &fakeContacts{}
	cfg := Config{ServerName: us}
	cfg.contacts = newContactNotifier(f)
	clock := time.Now()
	cfg.contacts.now = func() time.Time { return clock }
	h := Authenticate(cfg, e.keys, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	const uri = "/_matrix/federation/v1/anything"
	request := func(origin string) int {
		x, err := federation.RequestToSign{Method: "GET", URI: uri, Origin: origin, Destination: us}.Sign(e.remote.ID, e.remote.Private)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", uri, nil)
		req.Header.Set("Authorization", x.String())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		cfg.contacts.wg.Wait()
		return rec.Code
	}
	if c := request("stranger.example"); c != 401 || len(f.seen()) != 0 {
		t.Fatalf("refused request: %d, reported %v", c, f.seen())
	}
	for i := 0; i < 3; i++ {
		if c := request("remote.example"); c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if s := f.seen(); len(s) != 1 || s[0] != "remote.example" {
		t.Fatalf("three requests within a minute reported %v", s)
	}
	clock = clock.Add(contactInterval)
	request("remote.example")
	if s := f.seen(); len(s) != 2 {
		t.Fatalf("a minute later: %v", s)
	}
	// Without a federationsender nothing is reported and nothing fails.
	if newContactNotifier(nil) != nil {
		t.Fatal("a notifier without a federationsender")
	}
	var none *contactNotifier
	none.contacted("remote.example")
}

// TestContactNotifierBounded: a flood of origins does not grow the memory without bound.
func TestContactNotifierBounded(t *testing.T) {
	c := newContactNotifier(&fakeContacts{})
	clock := time.Now()
	c.now = func() time.Time { return clock }
	for i := 0; i < maxContactOrigins; i++ {
		c.due(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if c.due("one-more.example") {
		t.Fatal("a new origin reported past the bound within a minute")
	}
	clock = clock.Add(contactInterval)
	if !c.due("one-more.example") || len(c.last) != 1 {
		t.Fatalf("old entries not pruned: %d", len(c.last))
	}
}
