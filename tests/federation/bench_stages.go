package main

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Stage timings of the fan-out benchmark: Prometheus histograms the servers export, read
// before and after the sending window, reported as the window's count, mean and the p50 and
// p99 estimated from the buckets (linear inside a bucket, as histogram_quantile does).

// stageHistograms are the histogram families reported per server role.
var (
	senderStages = []string{
		"axon_roomserver_write_duration_seconds",
		"axon_federationsender_topic6_delay_seconds",
		"axon_federationsender_queue_wait_seconds",
		"axon_federationsender_transaction_seconds",
	}
	receiverStages = []string{
		"axon_federationapi_send_seconds",
		"axon_roomserver_write_duration_seconds",
		"axon_syncapi_roomevent_delay_seconds",
	}
)

// histogram is one series of a histogram family: cumulative bucket counts by upper bound.
type histogram struct {
	le         []float64
	cum        []float64
	sum, count float64
}

// histograms maps a series (family name with its labels but le) to its values.
type histograms map[string]*histogram

// scrapeHistograms reads the families of names from a /metrics page.
func scrapeHistograms(metricsURL string, names []string) (histograms, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", metricsURL, resp.Status)
	}
	return parseHistograms(bufio.NewScanner(resp.Body), names)
}

func parseHistograms(sc *bufio.Scanner, names []string) (histograms, error) {
	out := histograms{}
	get := func(series string) *histogram {
		h := out[series]
		if h == nil {
			h = &histogram{}
			out[series] = h
		}
		return h
	}
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		metric, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(metric, "{")
		labels = strings.TrimSuffix(labels, "}")
		for _, family := range names {
			suffix, ok := strings.CutPrefix(name, family)
			if !ok {
				continue
			}
			switch suffix {
			case "_bucket":
				var rest []string
				le := math.NaN()
				for _, l := range splitLabels(labels) {
					if s, ok := strings.CutPrefix(l, `le="`); ok {
						le, _ = strconv.ParseFloat(strings.TrimSuffix(s, `"`), 64)
					} else {
						rest = append(rest, l)
					}
				}
				if math.IsNaN(le) {
					continue
				}
				h := get(seriesName(family, rest))
				h.le, h.cum = append(h.le, le), append(h.cum, v)
			case "_sum":
				get(seriesName(family, splitLabels(labels))).sum = v
			case "_count":
				get(seriesName(family, splitLabels(labels))).count = v
			}
		}
	}
	return out, sc.Err()
}

// splitLabels splits `a="x",b="y"` (label values without commas, as ours are).
func splitLabels(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func seriesName(family string, labels []string) string {
	if len(labels) == 0 {
		return family
	}
	return family + "{" + strings.Join(labels, ",") + "}"
}

// since is h minus before (the same series read earlier; nil: zero).
func (h *histogram) since(before *histogram) *histogram {
	d := &histogram{le: h.le, cum: append([]float64(nil), h.cum...), sum: h.sum, count: h.count}
	if before == nil || len(before.cum) != len(h.cum) {
		return d
	}
	for i := range d.cum {
		d.cum[i] -= before.cum[i]
	}
	d.sum -= before.sum
	d.count -= before.count
	return d
}

// quantile estimates the q-quantile from the buckets.
func (h *histogram) quantile(q float64) float64 {
	if h.count <= 0 || len(h.cum) == 0 {
		return math.NaN()
	}
	rank := q * h.count
	prevLE, prevCum := 0.0, 0.0
	for i, le := range h.le {
		if h.cum[i] >= rank {
			if math.IsInf(le, 1) {
				return prevLE // beyond the last finite bound: report that bound
			}
			if h.cum[i] == prevCum {
				return le
			}
			return prevLE + (le-prevLE)*(rank-prevCum)/(h.cum[i]-prevCum)
		}
		prevLE, prevCum = le, h.cum[i]
	}
	return prevLE
}

// stageLines formats every series of after with observations since before, sorted.
func stageLines(before, after histograms) []string {
	var names []string
	for name := range after {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		d := after[name].since(before[name])
		if d.count <= 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s: n %.0f, mean %.1f ms, p50 ~%.1f ms, p99 ~%.1f ms",
			name, d.count, 1000*d.sum/d.count, 1000*d.quantile(0.5), 1000*d.quantile(0.99)))
	}
	return out
}
