package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Send is one message a sender got a 200 for.
type Send struct {
	DrillID   string // "<sender localpart>/<seq>": the message's identity in its content
	TxnID     string
	EventID   string
	Room      string
	Sender    string // user ID
	Seq       int    // the sender's sequence number; a sender sends one message at a time
	Attempts  int    // requests it took (1: no retry)
	Confirmed time.Time
}

// Delivery is one m.room.message event a user's /sync stream carried, in arrival order.
type Delivery struct {
	EventID string
	Room    string
	Sender  string
	DrillID string
	Seq     int
	At      time.Time
}

// Report is what the drill checks and prints.
type Report struct {
	Confirmed   int // messages a sender got a 200 for
	Unconfirmed int // messages whose sends never got a 200 before the deadline
	Retries     int // requests beyond the first, over all confirmed messages
	Expected    int // (message, member) pairs that must be delivered
	Delivered   int // of those, delivered at least once
	Missing     int // expected but never delivered
	Duplicates  int // an event delivered more than once in one user's stream
	Extra       int // deliveries of a message event no sender got a 200 for
	SplitTxns   int // one drill ID (one transaction) under two event IDs
	OutOfOrder  int // a sender's later message delivered before its earlier one in one room
	IdemChecked int // transactions sent again after the load
	IdemBroken  int // ... that answered another event ID
	Limited     int // sync responses with a limited timeline (events skipped)
	MaxDelay    time.Duration
	P50, P99    time.Duration
	// Windows are the delays by when the 200 came, in windows of Window from the first
	// 200: where in the drill deliveries stalled.
	Windows  []Window `json:",omitempty"`
	Examples []string // the first few problems, for the log
}

// Window is the delivery delays of the messages confirmed in one window of time.
type Window struct {
	From     time.Duration // since the first 200
	Sent     int
	P50, Max time.Duration
}

// windowLen is the length of a Window.
const windowLen = 5 * time.Second

// OK says whether nothing was lost, duplicated, invented, split or reordered.
func (r Report) OK() bool {
	return r.Unconfirmed == 0 && r.Missing == 0 && r.Duplicates == 0 && r.Extra == 0 && r.SplitTxns == 0 &&
		r.OutOfOrder == 0 && r.IdemBroken == 0 && r.Limited == 0 && r.Confirmed > 0
}

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent (200): %d  unconfirmed: %d  retries: %d\n", r.Confirmed, r.Unconfirmed, r.Retries)
	fmt.Fprintf(&b, "deliveries expected: %d  delivered: %d  missing: %d  duplicates: %d  extra: %d\n",
		r.Expected, r.Delivered, r.Missing, r.Duplicates, r.Extra)
	fmt.Fprintf(&b, "one txn, two events: %d  out of order: %d  limited timelines: %d  txn re-sent: %d, other event ID: %d\n",
		r.SplitTxns, r.OutOfOrder, r.Limited, r.IdemChecked, r.IdemBroken)
	fmt.Fprintf(&b, "delivery delay after the 200: p50 %s  p99 %s  max %s",
		r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.MaxDelay.Round(time.Millisecond))
	for _, w := range r.Windows {
		fmt.Fprintf(&b, "\n  sent %3.0f–%3.0fs: %4d messages, delay p50 %6s max %6s", w.From.Seconds(), (w.From + windowLen).Seconds(),
			w.Sent, w.P50.Round(10*time.Millisecond), w.Max.Round(10*time.Millisecond))
	}
	for _, e := range r.Examples {
		b.WriteString("\n  " + e)
	}
	return b.String()
}

const maxExamples = 12

func (r *Report) example(format string, a ...any) {
	if len(r.Examples) < maxExamples {
		r.Examples = append(r.Examples, fmt.Sprintf(format, a...))
	}
}

// Check compares what the senders got a 200 for with what every user's /sync stream
// carried. members maps each room to the user IDs that must receive its messages; streams
// maps each user ID to its deliveries in arrival order. Only rooms in members count.
func Check(sends []Send, unconfirmed int, members map[string][]string, streams map[string][]Delivery) Report {
	r := Report{Confirmed: len(sends), Unconfirmed: unconfirmed}
	if unconfirmed > 0 {
		r.example("%d messages never got a 200 from the server", unconfirmed)
	}
	byEvent := make(map[string]*Send, len(sends))
	byDrill := map[string]string{}
	for i := range sends {
		s := &sends[i]
		r.Retries += s.Attempts - 1
		byEvent[s.EventID] = s
		if prev, ok := byDrill[s.DrillID]; ok && prev != s.EventID {
			r.SplitTxns++
			r.example("message %s answered as both %s and %s", s.DrillID, prev, s.EventID)
		}
		byDrill[s.DrillID] = s.EventID
	}
	var delays []time.Duration
	var first time.Time
	for _, s := range sends {
		if first.IsZero() || s.Confirmed.Before(first) {
			first = s.Confirmed
		}
	}
	windowDelays := map[int][]time.Duration{}
	windowSent := map[int]int{}
	for _, s := range sends {
		windowSent[int(s.Confirmed.Sub(first)/windowLen)]++
	}
	got := make(map[string]map[string]bool, len(streams))
	for user, stream := range streams {
		seen := map[string]bool{}
		got[user] = seen
		// The last sequence number seen per (room, sender) in this stream.
		last := map[[2]string]int{}
		for _, d := range stream {
			if _, ok := members[d.Room]; !ok {
				continue
			}
			if seen[d.EventID] {
				r.Duplicates++
				r.example("%s received %s twice", user, d.EventID)
				continue
			}
			seen[d.EventID] = true
			s, ok := byEvent[d.EventID]
			if !ok {
				r.Extra++
				r.example("%s received %s (%q) that no sender got a 200 for", user, d.EventID, d.DrillID)
				if prev, dup := byDrill[d.DrillID]; dup && d.DrillID != "" {
					r.SplitTxns++
					r.example("message %s exists as %s and as %s", d.DrillID, prev, d.EventID)
				}
				continue
			}
			k := [2]string{d.Room, s.Sender}
			if p, ok := last[k]; ok && s.Seq < p {
				r.OutOfOrder++
				r.example("%s received %s's message %d after %d in %s", user, s.Sender, s.Seq, p, d.Room)
			}
			last[k] = max(last[k], s.Seq)
			delay := max(0, d.At.Sub(s.Confirmed))
			delays = append(delays, delay)
			w := int(s.Confirmed.Sub(first) / windowLen)
			windowDelays[w] = append(windowDelays[w], delay)
		}
	}
	for i := range sends {
		s := &sends[i]
		for _, u := range members[s.Room] {
			r.Expected++
			if got[u][s.EventID] {
				r.Delivered++
			} else {
				r.Missing++
				r.example("%s never received %s (%s)", u, s.EventID, s.DrillID)
			}
		}
	}
	if len(sends) == 0 {
		r.example("no message was sent: the drill proves nothing")
	}
	if len(delays) > 0 {
		sortDurations(delays)
		r.P50 = delays[len(delays)/2]
		r.P99 = delays[len(delays)*99/100]
		r.MaxDelay = delays[len(delays)-1]
	}
	if len(sends) > 0 {
		last := 0
		for w := range windowSent {
			last = max(last, w)
		}
		for w := 0; w <= last; w++ {
			win := Window{From: time.Duration(w) * windowLen, Sent: windowSent[w]}
			if ds := windowDelays[w]; len(ds) > 0 {
				sortDurations(ds)
				win.P50, win.Max = ds[len(ds)/2], ds[len(ds)-1]
			}
			r.Windows = append(r.Windows, win)
		}
	}
	return r
}

func sortDurations(ds []time.Duration) { sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] }) }
