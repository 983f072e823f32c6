package dispatch

import "testing"

func TestWatermark(t *testing.T) {
	type step struct {
		finish    int64
		wantNext  int64
		wantMoved bool
	}
	tests := []struct {
		name  string
		added []int64
		steps []step
	}{
		{"in order", []int64{0, 1, 2}, []step{{0, 1, true}, {1, 2, true}, {2, 3, true}}},
		{"later finishes first", []int64{0, 1, 2}, []step{{2, -1, false}, {1, -1, false}, {0, 3, true}}},
		{"middle first", []int64{5, 6, 7}, []step{{6, -1, false}, {5, 7, true}, {7, 8, true}}},
		{"gaps in offsets", []int64{3, 10, 11}, []step{{3, 10, true}, {11, 10, false}, {10, 12, true}}},
		{"unknown offset ignored", []int64{0}, []step{{9, -1, false}, {0, 1, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWatermark()
			for _, o := range tc.added {
				w.add(o)
			}
			for i, s := range tc.steps {
				next, moved := w.finish(s.finish)
				if next != s.wantNext || moved != s.wantMoved {
					t.Fatalf("step %d finish(%d) = %d,%v; want %d,%v", i, s.finish, next, moved, s.wantNext, s.wantMoved)
				}
			}
			if w.pending() != 0 {
				t.Fatalf("pending = %d after all finished", w.pending())
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: 10, Max: 50}
	for attempt, want := range map[int]int64{1: 10, 2: 20, 3: 40, 4: 50, 10: 50} {
		if got := b.Delay(attempt); int64(got) != want {
			t.Errorf("Delay(%d) = %d, want %d", attempt, got, want)
		}
	}
}
