package writepos

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestTracker checks the bookkeeping: newest wins, unknown keys and keys dropped when the
// map was full are covered by the floor, the floor is loaded once (again after an error).
func TestTracker(t *testing.T) {
	ctx := context.Background()
	loads := 0
	tr := &Tracker{Load: func(context.Context) (int64, error) { loads++; return 5, nil }}
	tr.Record(7, "!a", "@u", "@v")
	tr.Record(6, "!a", "@u") // older: ignored
	tr.Record(9, "!b", "@v")
	for _, c := range []struct {
		keys []string
		want int64
	}{
		{[]string{"!a"}, 7}, {[]string{"!b"}, 9}, {[]string{"@u"}, 7}, {[]string{"@v"}, 9},
		{[]string{"!a", "@v"}, 9}, {[]string{"!a", ""}, 7}, {[]string{"!unknown"}, 5}, {nil, 5},
	} {
		got, err := tr.Position(ctx, c.keys...)
		if err != nil || got != c.want {
			t.Errorf("Position(%q) = %d, %v; want %d", c.keys, got, err, c.want)
		}
	}
	if loads != 1 {
		t.Errorf("floor loaded %d times, want 1", loads)
	}

	fail := true
	q := &Tracker{Load: func(context.Context) (int64, error) {
		if fail {
			return 0, errors.New("db down")
		}
		return 5, nil
	}}
	if _, err := q.Position(ctx, "!a"); err == nil {
		t.Error("load error not returned")
	}
	fail = false
	if got, _ := q.Position(ctx, "!a"); got != 5 {
		t.Errorf("after a failed load: %d, want 5", got)
	}

	// A full map starts afresh; what it forgot is covered by the raised floor, and the
	// record that overflowed it is kept.
	f := &Tracker{MaxKeys: 100, Load: func(context.Context) (int64, error) { return 0, nil }}
	for i := 0; i < 100; i++ {
		f.Record(int64(i+1), fmt.Sprintf("!r%d", i))
	}
	f.Record(101, "!new")
	if got, _ := f.Position(ctx, "!r0"); got != 100 {
		t.Errorf("dropped key: %d, want the floor 100", got)
	}
	if got, _ := f.Position(ctx, "!new"); got != 101 {
		t.Errorf("key after the drop: %d, want 101", got)
	}
}
