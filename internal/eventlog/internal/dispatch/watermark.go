package dispatch

import "sort"

// watermark tracks one partition's messages that were submitted but are not yet handled, so
// the offset committed for the partition never passes a message whose handler has not
// succeeded (ARCHITECTURE.md §5: at-least-once; a commit never skips an unhandled message).
// Offsets are added in increasing order; they may have gaps (Kafka transactions, deleted rows).
type watermark struct {
	entries   []entry // unfinished prefix first; finished entries after the first unfinished one wait here
	last      int64   // highest offset added
	committed int64   // highest next-offset already reported, -1 before the first
}

type entry struct {
	offset int64
	done   bool
}

func newWatermark() *watermark { return &watermark{last: -1, committed: -1} }

// add records a submitted offset.
func (w *watermark) add(offset int64) {
	w.entries = append(w.entries, entry{offset: offset})
	w.last = offset
}

// finish marks offset handled. It returns the new commit position (the offset of the next
// message to read: the lowest unfinished offset, or one past the last added) and whether it
// moved forward.
func (w *watermark) finish(offset int64) (int64, bool) {
	i := sort.Search(len(w.entries), func(i int) bool { return w.entries[i].offset >= offset })
	if i < len(w.entries) && w.entries[i].offset == offset {
		w.entries[i].done = true
	}
	n := 0
	for n < len(w.entries) && w.entries[n].done {
		n++
	}
	if n == 0 {
		return w.committed, false
	}
	w.entries = w.entries[n:]
	next := w.last + 1
	if len(w.entries) > 0 {
		next = w.entries[0].offset
	}
	if next <= w.committed {
		return w.committed, false
	}
	w.committed = next
	return next, true
}

// pending reports how many added offsets are not finished or still wait behind one that is not.
func (w *watermark) pending() int { return len(w.entries) }
