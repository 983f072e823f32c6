package main

import (
	"bufio"
	"math"
	"strings"
	"testing"
)

const sampleMetrics = `# HELP x_seconds test
# TYPE x_seconds histogram
x_seconds_bucket{stage="a",le="0.01"} 10
x_seconds_bucket{stage="a",le="0.1"} 30
x_seconds_bucket{stage="a",le="+Inf"} 40
x_seconds_sum{stage="a"} 3.5
x_seconds_count{stage="a"} 40
y_seconds_bucket{le="1"} 2
y_seconds_bucket{le="+Inf"} 2
y_seconds_sum 0.5
y_seconds_count 2
other_total 7
`

func TestParseHistograms(t *testing.T) {
	hs, err := parseHistograms(bufio.NewScanner(strings.NewReader(sampleMetrics)), []string{"x_seconds", "y_seconds"})
	if err != nil {
		t.Fatal(err)
	}
	a := hs[`x_seconds{stage="a"}`]
	if a == nil || a.count != 40 || a.sum != 3.5 || len(a.le) != 3 || a.cum[1] != 30 || !math.IsInf(a.le[2], 1) {
		t.Fatalf("x_seconds{stage=a} = %+v", a)
	}
	if y := hs["y_seconds"]; y == nil || y.count != 2 || y.cum[0] != 2 {
		t.Fatalf("y_seconds = %+v", hs["y_seconds"])
	}
	if len(hs) != 2 {
		t.Fatalf("series %v, want 2", len(hs))
	}
}

func TestHistogramQuantileAndSince(t *testing.T) {
	h := &histogram{le: []float64{0.01, 0.1, math.Inf(1)}, cum: []float64{10, 30, 40}, sum: 3.5, count: 40}
	for _, tc := range []struct {
		q, want float64
	}{
		{0.125, 0.005}, // rank 5 of the first bucket's 10: half of 0..0.01
		{0.25, 0.01},   // exactly the first bucket
		{0.5, 0.055},   // rank 20: half into 0.01..0.1
		{0.99, 0.1},    // in +Inf: the last finite bound
	} {
		if got := h.quantile(tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	before := &histogram{le: h.le, cum: []float64{10, 10, 10}, sum: 0.5, count: 10}
	d := h.since(before)
	if d.count != 30 || d.sum != 3 || d.cum[0] != 0 || d.cum[1] != 20 {
		t.Fatalf("since = %+v", d)
	}
	if got := d.quantile(0.5); math.Abs(got-(0.01+0.09*15/20)) > 1e-9 {
		t.Fatalf("quantile of the difference = %v", got)
	}
	if !math.IsNaN((&histogram{}).quantile(0.5)) {
		t.Fatal("an empty histogram has a quantile")
	}
	lines := stageLines(histograms{"h": before}, histograms{"h": h, "empty": &histogram{}})
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "h: n 30, mean 100.0 ms") {
		t.Fatalf("stageLines = %q", lines)
	}
}
