package embedded

import (
	"context"
	"testing"
	"time"
)

// committedOffsets sums a group's committed next offsets over a topic's partitions.
func committedOffsets(t *testing.T, l *Log, group, topic string) int64 {
	t.Helper()
	var n int64
	if err := l.db.QueryRow(`SELECT COALESCE(SUM(next_offset), 0) FROM eventlog_offsets WHERE grp = $1 AND topic = $2`,
		group, topic).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Offsets are committed at most once per CommitInterval: the first handled message is
// committed at once, the ones handled during the interval wait for the next commit, and a
// consumer that stops commits everything it handled.
func testCommitInterval(t *testing.T, dsn string) {
	cfg := testConfig
	cfg.CommitInterval = time.Hour
	l := openLog(t, dsn, cfg)
	ctx := context.Background()
	if err := l.EnsureTopics(ctx, 2, "ci"); err != nil {
		t.Fatal(err)
	}
	var c counter
	stop := start(t, l, "ci", "g", c.handle)
	pub(t, l, "ci", "a")
	eventually(t, "the first commit", func() bool { return committedOffsets(t, l, "g", "ci") == 1 })
	pub(t, l, "ci", "b", "c", "d")
	eventually(t, "four handled messages", func() bool { return c.n() == 4 })
	if got := committedOffsets(t, l, "g", "ci"); got != 1 {
		t.Fatalf("committed %d messages within the interval, want 1 (the first)", got)
	}
	stop()
	if got := committedOffsets(t, l, "g", "ci"); got != 4 {
		t.Fatalf("committed %d messages after stopping, want 4", got)
	}
	// A new consumer of the group starts after everything handled: nothing is delivered twice.
	var again counter
	stop = start(t, l, "ci", "g", again.handle)
	pub(t, l, "ci", "e")
	eventually(t, "the new message", func() bool { return again.n() >= 1 })
	stop()
	if again.n() != 1 || again.vals[0] != "e" {
		t.Fatalf("second consumer got %v, want [e]", again.vals)
	}
}
