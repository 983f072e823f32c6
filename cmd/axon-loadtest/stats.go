package main

import (
	"sort"
	"sync"
	"time"
)

// latencies collects durations safely from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// percentile returns the p-th percentile (0 < p ≤ 100) by the nearest-rank method, 0 if empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(p/100*float64(len(s))+0.999999) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(s) {
		rank = len(s) - 1
	}
	return s[rank]
}

func (l *latencies) summary() (n int, p50, p99, max time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d), percentile(l.d, 50), percentile(l.d, 99), percentile(l.d, 100)
}

// sendStamp is when a message was sent, and in which second of the send phase.
type sendStamp struct {
	at     time.Time
	second int
}

// secondLatencies collects durations by the second (0, 1, ...) they belong to.
type secondLatencies struct {
	mu sync.Mutex
	d  [][]time.Duration
}

func (l *secondLatencies) add(second int, d time.Duration) {
	if second < 0 {
		second = 0
	}
	l.mu.Lock()
	for len(l.d) <= second {
		l.d = append(l.d, nil)
	}
	l.d[second] = append(l.d[second], d)
	l.mu.Unlock()
}

// reports summarises each second: n, p50, p99 and max (all 0 for a second without any).
func (l *secondLatencies) reports() []latencyReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]latencyReport, len(l.d))
	for i, ds := range l.d {
		out[i] = latencyReport{N: len(ds), P50ms: ms(percentile(ds, 50)), P99ms: ms(percentile(ds, 99)), Maxms: ms(percentile(ds, 100))}
	}
	return out
}
