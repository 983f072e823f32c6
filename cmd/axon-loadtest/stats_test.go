package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	cases := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of five", ms(5, 1, 4, 2, 3), 50, 3 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(seq(1, 100)...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(3, 9, 1), 100, 9 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := percentile(c.in, c.p); got != c.want {
				t.Fatalf("percentile(%v, %v) = %v, want %v", c.in, c.p, got, c.want)
			}
		})
	}
}

func seq(a, b int) []int {
	var out []int
	for i := a; i <= b; i++ {
		out = append(out, i)
	}
	return out
}

func TestParseStatCPU(t *testing.T) {
	cases := []struct {
		name, stat string
		want       float64
	}{
		{"plain", "1234 (axon-monolith) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0", 3.0},
		{"name with spaces and parens", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 0 0", 0.03},
		{"truncated", "7 (x) R 1 2", 0},
		{"no name", "garbage", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := parseStatCPU(c.stat); got != c.want {
				t.Fatalf("parseStatCPU = %v, want %v", got, c.want)
			}
		})
	}
}

func TestSecondLatencies(t *testing.T) {
	var l secondLatencies
	if got := l.reports(); len(got) != 0 {
		t.Fatalf("empty: %v", got)
	}
	for i := 1; i <= 100; i++ {
		l.add(0, time.Duration(i)*time.Millisecond)
	}
	l.add(2, 5*time.Millisecond)
	l.add(-1, time.Millisecond) // before the first second: counted in it
	got := l.reports()
	want := []latencyReport{
		{N: 101, P50ms: 50, P99ms: 99, Maxms: 100},
		{},
		{N: 1, P50ms: 5, P99ms: 5, Maxms: 5},
	}
	if len(got) != len(want) {
		t.Fatalf("reports = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("second %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
