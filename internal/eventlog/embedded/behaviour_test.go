package embedded

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/testenv"
)

type counter struct {
	mu   sync.Mutex
	vals []string
}

func (c *counter) handle(_ context.Context, m eventlog.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vals = append(c.vals, string(m.Value))
	return nil
}

func (c *counter) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.vals)
}

func start(t *testing.T, l *Log, topic, group string, h eventlog.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Consumer().Consume(ctx, topic, group, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Consume: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func pub(t *testing.T, l *Log, topic string, vals ...string) {
	t.Helper()
	var msgs []eventlog.Message
	for i, v := range vals {
		msgs = append(msgs, eventlog.Message{Topic: topic, Key: fmt.Sprint("k", i%2), Value: []byte(v)})
	}
	if err := l.Producer().Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

func countMessages(t *testing.T, l *Log, topic string) int {
	t.Helper()
	var n int
	if err := l.db.QueryRow(`SELECT COUNT(*) FROM eventlog_messages WHERE topic = $1`, topic).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEmbedded(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, dsn string)
	}{
		{"UnknownTopic", testUnknownTopic},
		{"EnsureTopicsKeepsPartitionCount", testEnsureTopicsKeepsPartitions},
		{"Retention", testRetention},
		{"LeaseOneConsumerPerGroup", testLease},
		{"LeaseOfKilledOwnerExpires", testLeaseExpiry},
		{"ResetLatestForNewGroup", testResetLatest},
		{"GroupsAreIndependent", testGroupsIndependent},
		{"CommitInterval", testCommitInterval},
	}
	for dbName, mkDSN := range testenv.Databases(t) {
		t.Run(dbName, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, mkDSN(t)) })
			}
		})
	}
}

func testUnknownTopic(t *testing.T, dsn string) {
	l := openLog(t, dsn, testConfig)
	ctx := context.Background()
	if err := l.Producer().Publish(ctx, eventlog.Message{Topic: "nope", Key: "k"}); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("Publish to unknown topic = %v", err)
	}
	if err := l.Consumer().Consume(ctx, "nope", "g", func(context.Context, eventlog.Message) error { return nil }); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("Consume of unknown topic = %v", err)
	}
	if err := l.EnsureTopics(ctx, 0, "t"); err == nil {
		t.Error("EnsureTopics accepted 0 partitions")
	}
}

func testEnsureTopicsKeepsPartitions(t *testing.T, dsn string) {
	l := openLog(t, dsn, testConfig)
	ctx := context.Background()
	if err := l.EnsureTopics(ctx, 2, "t"); err != nil {
		t.Fatal(err)
	}
	if err := l.EnsureTopics(ctx, 8, "t", "u"); err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]int{"t": 2, "u": 8} {
		l2 := openLog(t, dsn, testConfig) // no cache
		if n, err := l2.partitionCount(ctx, topic); err != nil || n != want {
			t.Errorf("%s has %d partitions (%v), want %d", topic, n, err, want)
		}
	}
}

// Messages go once every registered group has consumed them, not before.
func testRetention(t *testing.T, dsn string) {
	l := openLog(t, dsn, testConfig)
	ctx := context.Background()
	if err := l.EnsureTopics(ctx, 2, "t"); err != nil {
		t.Fatal(err)
	}
	pub(t, l, "t", "1", "2", "3", "4")
	if n, err := l.Retain(ctx); err != nil || n != 0 {
		t.Fatalf("Retain with no groups deleted %d (%v); want 0", n, err)
	}
	fast := &counter{}
	stopFast := start(t, l, "t", "fast", fast.handle)
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	slow := &counter{}
	stopSlow := start(t, l, "t", "slow", func(ctx context.Context, m eventlog.Message) error {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		return slow.handle(ctx, m)
	})
	eventually(t, "fast group", func() bool { return fast.n() == 4 })
	stopFast() // flushes its offsets
	// The slow group registers (its offsets rows) before it hands out its first message;
	// until then retention rightly counts only the fast group.
	select {
	case <-entered:
	case <-time.After(15 * time.Second):
		t.Fatal("the slow group never received a message")
	}
	if n, err := l.Retain(ctx); err != nil || n != 0 {
		t.Fatalf("Retain while the slow group has consumed nothing deleted %d (%v)", n, err)
	}
	close(release)
	eventually(t, "slow group", func() bool { return slow.n() == 4 })
	stopSlow()
	if n, err := l.Retain(ctx); err != nil || n != 4 {
		t.Fatalf("Retain after both groups consumed deleted %d (%v); want 4", n, err)
	}
	// Offsets continue after the deleted messages; a restarted group does not reset.
	pub(t, l, "t", "5")
	again := &counter{}
	start(t, l, "t", "fast", again.handle)
	eventually(t, "the new message", func() bool { return again.n() == 1 })
	if countMessages(t, l, "t") != 1 {
		t.Fatalf("want only the new message left")
	}
	if err := l.DeleteGroup(ctx, "slow"); err != nil {
		t.Fatal(err)
	}
}

// A second Consume of the same group waits while the first holds the lease, and takes
// over when it stops, continuing after its last commit.
func testLease(t *testing.T, dsn string) {
	l := openLog(t, dsn, testConfig)
	other := openLog(t, dsn, testConfig) // another process
	ctx := context.Background()
	if err := l.EnsureTopics(ctx, 1, "t"); err != nil {
		t.Fatal(err)
	}
	var firstN, secondN atomic.Int32
	stopFirst := start(t, l, "t", "g", func(context.Context, eventlog.Message) error { firstN.Add(1); return nil })
	pub(t, l, "t", "1", "2")
	eventually(t, "first consumer", func() bool { return firstN.Load() == 2 })
	start(t, other, "t", "g", func(context.Context, eventlog.Message) error { secondN.Add(1); return nil })
	pub(t, l, "t", "3")
	eventually(t, "first consumer gets 3", func() bool { return firstN.Load() == 3 })
	time.Sleep(200 * time.Millisecond)
	if secondN.Load() != 0 {
		t.Fatalf("second member of the group got %d messages while the first held the lease", secondN.Load())
	}
	stopFirst()
	pub(t, l, "t", "4")
	eventually(t, "second consumer takes over", func() bool { return secondN.Load() == 1 })
	time.Sleep(200 * time.Millisecond)
	if secondN.Load() != 1 || firstN.Load() != 3 {
		t.Fatalf("after takeover first=%d second=%d, want 3 and 1", firstN.Load(), secondN.Load())
	}
}

func testResetLatest(t *testing.T, dsn string) {
	cfg := testConfig
	cfg.Reset = eventlog.ResetLatest
	l := openLog(t, dsn, cfg)
	ctx := context.Background()
	if err := l.EnsureTopics(ctx, 3, "t"); err != nil {
		t.Fatal(err)
	}
	pub(t, l, "t", "old1", "old2")
	c := &counter{}
	start(t, l, "t", "g", c.handle)
	// The group registers its start position before reading; wait for that.
	eventually(t, "registration", func() bool {
		var n int
		_ = l.db.QueryRow(`SELECT COUNT(*) FROM eventlog_offsets WHERE grp = 'g'`).Scan(&n)
		return n == 3
	})
	pub(t, l, "t", "new1")
	eventually(t, "new message", func() bool { return c.n() == 1 })
	time.Sleep(100 * time.Millisecond)
	if c.n() != 1 || c.vals[0] != "new1" {
		t.Fatalf("latest group got %v, want [new1]", c.vals)
	}
}

func testGroupsIndependent(t *testing.T, dsn string) {
	l := openLog(t, dsn, testConfig)
	ctx := context.Background()
	if err := l.EnsureTopics(ctx, 2, "t"); err != nil {
		t.Fatal(err)
	}
	pub(t, l, "t", "1", "2", "3")
	a, b := &counter{}, &counter{}
	start(t, l, "t", "a", a.handle)
	start(t, l, "t", "b", b.handle)
	eventually(t, "both groups", func() bool { return a.n() == 3 && b.n() == 3 })
}

// A process killed while holding the lease never releases it; another consumer of the
// group takes over once it expires.
func testLeaseExpiry(t *testing.T, dsn string) {
	l := openLog(t, dsn, testConfig)
	ctx := context.Background()
	if err := l.EnsureTopics(ctx, 1, "t"); err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(700 * time.Millisecond)
	if _, err := l.db.Exec(`INSERT INTO eventlog_leases (grp, topic, owner, expires_ms) VALUES ('g', 't', 'dead', $1)`,
		expires.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	pub(t, l, "t", "1")
	c := &counter{}
	start(t, l, "t", "g", c.handle)
	eventually(t, "takeover after expiry", func() bool { return c.n() == 1 })
	if time.Now().Before(expires) {
		t.Fatal("consumed while a live lease was held by another owner")
	}
}
