package main

import (
	"reflect"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	t0 := time.Unix(1000, 0)
	members := map[string][]string{"!r": {"@a", "@b"}}
	send := func(drill, event string, seq, attempts int) Send {
		return Send{DrillID: drill, TxnID: "t" + drill, EventID: event, Room: "!r", Sender: "@a", Seq: seq,
			Attempts: attempts, Confirmed: t0}
	}
	got := func(event, drill string, seq int, after time.Duration) Delivery {
		return Delivery{EventID: event, Room: "!r", Sender: "@a", DrillID: drill, Seq: seq, At: t0.Add(after)}
	}
	two := []Send{send("a/0", "$0", 0, 1), send("a/1", "$1", 1, 3)}
	both := []Delivery{got("$0", "a/0", 0, time.Second), got("$1", "a/1", 1, 2*time.Second)}

	tests := []struct {
		name        string
		sends       []Send
		unconfirmed int
		streams     map[string][]Delivery
		want        Report // without Examples
		ok          bool
	}{
		{"every member gets every message once", two, 0,
			map[string][]Delivery{"@a": both, "@b": both},
			Report{Confirmed: 2, Retries: 2, Expected: 4, Delivered: 4, MaxDelay: 2 * time.Second, P50: 2 * time.Second, P99: 2 * time.Second}, true},
		{"one member misses one", two, 0,
			map[string][]Delivery{"@a": both, "@b": both[:1]},
			Report{Confirmed: 2, Retries: 2, Expected: 4, Delivered: 3, Missing: 1, MaxDelay: 2 * time.Second, P50: time.Second, P99: 2 * time.Second}, false},
		{"an event twice in one stream", two, 0,
			map[string][]Delivery{"@a": both, "@b": append(append([]Delivery{}, both...), both[0])},
			Report{Confirmed: 2, Retries: 2, Expected: 4, Delivered: 4, Duplicates: 1, MaxDelay: 2 * time.Second, P50: 2 * time.Second, P99: 2 * time.Second}, false},
		{"an event no sender got a 200 for, under a confirmed message's drill ID", two, 0,
			map[string][]Delivery{"@a": both, "@b": append(append([]Delivery{}, both...), got("$x", "a/1", 1, 3*time.Second))},
			Report{Confirmed: 2, Retries: 2, Expected: 4, Delivered: 4, Extra: 1, SplitTxns: 1, MaxDelay: 2 * time.Second, P50: 2 * time.Second, P99: 2 * time.Second}, false},
		{"a sender's messages out of order", two, 0,
			map[string][]Delivery{"@a": both, "@b": {both[1], both[0]}},
			Report{Confirmed: 2, Retries: 2, Expected: 4, Delivered: 4, OutOfOrder: 1, MaxDelay: 2 * time.Second, P50: 2 * time.Second, P99: 2 * time.Second}, false},
		{"one drill ID answered as two event IDs", []Send{send("a/0", "$0", 0, 1), send("a/0", "$0b", 0, 1)}, 0,
			map[string][]Delivery{"@a": {got("$0", "a/0", 0, 0), got("$0b", "a/0", 0, 0)}, "@b": {got("$0", "a/0", 0, 0), got("$0b", "a/0", 0, 0)}},
			Report{Confirmed: 2, Expected: 4, Delivered: 4, SplitTxns: 1}, false},
		{"a message that never got a 200", two, 1,
			map[string][]Delivery{"@a": both, "@b": both},
			Report{Confirmed: 2, Unconfirmed: 1, Retries: 2, Expected: 4, Delivered: 4, MaxDelay: 2 * time.Second, P50: 2 * time.Second, P99: 2 * time.Second}, false},
		{"events of other rooms are not counted", two, 0,
			map[string][]Delivery{"@a": append(append([]Delivery{}, both...), Delivery{EventID: "$o", Room: "!other"}), "@b": both},
			Report{Confirmed: 2, Retries: 2, Expected: 4, Delivered: 4, MaxDelay: 2 * time.Second, P50: 2 * time.Second, P99: 2 * time.Second}, true},
		{"delivery before the 200 counts as no delay", []Send{send("a/0", "$0", 0, 1)}, 0,
			map[string][]Delivery{"@a": {got("$0", "a/0", 0, -time.Second)}, "@b": {got("$0", "a/0", 0, 0)}},
			Report{Confirmed: 1, Expected: 2, Delivered: 2}, true},
		{"nothing sent is not a pass", nil, 0, map[string][]Delivery{}, Report{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.sends, tt.unconfirmed, members, tt.streams)
			if r.OK() != tt.ok {
				t.Errorf("OK() = %v, want %v\n%s", r.OK(), tt.ok, r)
			}
			// A failing report says why; a passing one has nothing to say.
			if (len(r.Examples) == 0) != tt.ok {
				t.Errorf("examples %q for a report with OK() = %v", r.Examples, r.OK())
			}
			r.Examples = nil
			// Every message here is confirmed at t0: one window, holding them all.
			if len(tt.sends) > 0 && (len(r.Windows) != 1 || r.Windows[0].Sent != len(tt.sends) || r.Windows[0].Max != r.MaxDelay) {
				t.Errorf("windows %+v, want one of %d messages with max %s", r.Windows, len(tt.sends), r.MaxDelay)
			}
			r.Windows = nil
			if !reflect.DeepEqual(r, tt.want) {
				t.Errorf("got  %+v\nwant %+v", r, tt.want)
			}
		})
	}
}

func TestCheckWindows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	members := map[string][]string{"!r": {"@a"}}
	sends := []Send{
		{DrillID: "a/0", EventID: "$0", Room: "!r", Sender: "@a", Seq: 0, Attempts: 1, Confirmed: t0},
		{DrillID: "a/1", EventID: "$1", Room: "!r", Sender: "@a", Seq: 1, Attempts: 1, Confirmed: t0.Add(11 * time.Second)},
	}
	streams := map[string][]Delivery{"@a": {
		{EventID: "$0", Room: "!r", At: t0.Add(time.Second)},
		{EventID: "$1", Room: "!r", At: t0.Add(14 * time.Second)},
	}}
	r := Check(sends, 0, members, streams)
	want := []Window{
		{From: 0, Sent: 1, P50: time.Second, Max: time.Second},
		{From: 5 * time.Second, Sent: 0},
		{From: 10 * time.Second, Sent: 1, P50: 3 * time.Second, Max: 3 * time.Second},
	}
	if !reflect.DeepEqual(r.Windows, want) {
		t.Errorf("windows %+v, want %+v", r.Windows, want)
	}
}
