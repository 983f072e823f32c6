package syncv3

import (
	"context"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// quietSource is a Source with nothing to say: enough for requests that name no stream
// (the other methods are never called and would panic).
type quietSource struct{ Source }

type quietListener struct{ c chan struct{} }

func (l quietListener) C() <-chan struct{} { return l.c }
func (quietListener) Close()               {}

func (quietSource) Position() Pos                                 { return Pos{Room: 5, EDU: 3, AccountData: 2} }
func (quietSource) CatchUp(context.Context, string, string) error { return nil }
func (quietSource) Listen(string, []string) Listener              { return quietListener{make(chan struct{})} }
func (quietSource) ToDevicePending(string, string) (int64, bool)  { return 0, false }

// TestSessionTouch: a request writes its session back only when the sticky parameters
// changed or the stored last use is older than touchEvery (a tenth of the idle timeout,
// at most a minute), so a session in use costs no write per long-poll and still never
// expires while used at least every idle timeout − touchEvery.
func TestSessionTouch(t *testing.T) {
	ctx := context.Background()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "touch")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(store, quietSource{}, Config{IdleTimeout: 10 * time.Minute})
	now := time.UnixMilli(1_700_000_000_000)
	e.Now = func() time.Time { return now }
	c := Caller{UserID: "@a:x", DeviceID: "D"}
	resp, err := e.Sync(ctx, c, "", 0, &Request{})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := ParseToken(resp.Next)
	stored := func() time.Time {
		t.Helper()
		s, err := store.Get(ctx, tok.Session)
		if err != nil || s == nil {
			t.Fatalf("session: %v %v", s, err)
		}
		return s.LastUsed
	}
	created := stored()
	steps := []struct {
		name      string
		advance   time.Duration
		body      *Request
		wantSaved bool
	}{
		{"same parameters soon after", 30 * time.Second, &Request{}, false},
		{"same parameters, still within touchEvery", 29 * time.Second, &Request{}, false},
		{"touchEvery passed", 2 * time.Second, &Request{}, true},
		{"new sticky parameter", time.Second, &Request{Typing: &TypingRequest{RoomID: ""}}, true},
		{"the same parameter again", time.Second, &Request{Typing: &TypingRequest{RoomID: ""}}, false},
	}
	last := created
	for _, s := range steps {
		now = now.Add(s.advance)
		if _, err := e.Sync(ctx, c, resp.Next, 0, s.body); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := stored()
		if saved := !got.Equal(last); saved != s.wantSaved {
			t.Fatalf("%s: stored last use %v (before %v), saved %v", s.name, got, last, saved)
		}
		last = got
	}
	// Used every 9 minutes (idle timeout 10m, touchEvery 1m): never expires.
	for i := 0; i < 5; i++ {
		now = now.Add(9 * time.Minute)
		if _, err := e.Sync(ctx, c, resp.Next, 0, &Request{}); err != nil {
			t.Fatalf("use %d: %v", i, err)
		}
	}
	// Idle for longer than the timeout: expired.
	now = now.Add(10*time.Minute + time.Second)
	if _, err := e.Sync(ctx, c, resp.Next, 0, &Request{}); err == nil {
		t.Fatal("an idle session was honoured")
	}
}
