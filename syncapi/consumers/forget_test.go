package consumers

import (
	"context"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/testenv"
)

// A forget record (topic 2 OutputForget) stores the user's newest forget position per
// room, moves the watermark over its position like any record (held back behind a gap,
// released when it fills), tells the notifier exactly what moved (nothing but the
// position) and changes nothing when replayed.
func TestForgetRecord(t *testing.T) {
	steps := []struct {
		name      string
		msg       eventlog.Message
		watermark int64
		forgotten map[string]int64 // @v's
		wantCall  *notifyCall      // nil: the notifier is told nothing
	}{
		{"forget", forget(3, roomA, "@v:test"), 3, map[string]int64{roomA: 3}, &notifyCall{exact: true, from: 2, to: 3}},
		{"replayed", forget(3, roomA, "@v:test"), 3, map[string]int64{roomA: 3}, nil},
		{"another user's", forget(4, roomA, "@u:test"), 4, map[string]int64{roomA: 3}, &notifyCall{exact: true, from: 3, to: 4}},
		{"behind a gap", forget(6, roomB, "@v:test"), 4, map[string]int64{roomA: 3, roomB: 6}, nil},
		{"the gap filled", message(5, roomA, "$m5"), 6, map[string]int64{roomA: 3, roomB: 6}, &notifyCall{exact: true, from: 4, to: 6}},
		{"newer forget", forget(8, roomA, "@v:test"), 6, map[string]int64{roomA: 8, roomB: 6}, nil},
		{"older forget after it", forget(7, roomA, "@v:test"), 8, map[string]int64{roomA: 8, roomB: 6}, &notifyCall{exact: true, from: 6, to: 8}},
	}
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c, n := newConsumer(t, dsn(t))
			for _, m := range setup() {
				mustNil(t, c.Handle(ctx, m))
			}
			for _, st := range steps {
				calls := len(n.calls)
				mustNil(t, c.Handle(ctx, st.msg))
				got := snap(t, c)
				if got.watermark != st.watermark || !reflect.DeepEqual(got.forgotten[1], st.forgotten) {
					t.Fatalf("%s: watermark %d forgotten %v, want %d %v", st.name, got.watermark, got.forgotten[1], st.watermark, st.forgotten)
				}
				told := n.calls[calls:]
				switch {
				case st.wantCall == nil && len(told) != 0:
					t.Fatalf("%s: told the notifier %+v", st.name, told)
				case st.wantCall != nil && (len(told) != 1 || told[0].exact != st.wantCall.exact || told[0].from != st.wantCall.from || told[0].to != st.wantCall.to):
					t.Fatalf("%s: told the notifier %+v, want %+v", st.name, told, *st.wantCall)
				}
				checkToldAsStored(ctx, t, c, told)
			}
			// ForgottenRooms answers at a position: the newest forgets, if at or before it.
			at6, err := c.db.ForgottenRooms(ctx, "@v:test", 6)
			mustNil(t, err)
			if !reflect.DeepEqual(at6, map[string]int64{roomB: 6}) {
				t.Fatalf("forgotten at 6: %v", at6)
			}
		})
	}
}
