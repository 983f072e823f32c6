package syncv3proxy_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/syncv3proxy"
)

// upstreamMessages walks the upstream's /messages of the room backwards from its newest
// event (no from, spec v1.3) and returns the event IDs oldest first.
func upstreamMessages(t *testing.T, upstream, token, room string) []string {
	var ids []string
	from := ""
	for page := 0; page < 100; page++ {
		q := url.Values{"dir": {"b"}, "limit": {"100"}}
		if from != "" {
			q.Set("from", from)
		}
		r := processtest.Do(t, http.MethodGet, upstream+"/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/messages?"+q.Encode(), token, nil).Must(t, 200)
		chunk, _ := r.Body["chunk"].([]any)
		for _, e := range chunk {
			id, _ := e.(map[string]any)["event_id"].(string)
			ids = append([]string{id}, ids...)
		}
		end := r.Str("end")
		if len(chunk) == 0 || end == "" || end == from {
			return ids
		}
		from = end
	}
	t.Fatal("the upstream's /messages never ended")
	return nil
}

// testGaps: the proxy's poll answers with limited timelines (the history before its first
// poll, and more messages than the poll's timeline limit sent while it was down) leave
// gaps in its copy; a backward walk of the room stream reads them from the upstream and
// returns every event of the room once, in order, as the upstream's /messages does.
func testGaps(t *testing.T, upstream, secret, dsn, pfx string) {
	p := startProxy(t, upstream, dsn, syncv3proxy.Config{})
	p.sharedSecret = secret
	_, alice := p.register(pfx + "gap_a")
	room := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", alice, map[string]any{"name": "Gaps"}).Must(t, 200).Str("room_id")
	var want []string
	send := func(base string, i int) {
		body := fmt.Sprintf("g%03d", i)
		processtest.Do(t, http.MethodPut, fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/send/m.room.message/gap%d", base, url.PathEscape(room), i), alice,
			map[string]any{"msgtype": "m.text", "body": body}).Must(t, 200)
		want = append(want, body)
	}
	// More than the poll's timeline limit (50) before the first poll...
	for i := 0; i < 60; i++ {
		send(p.base, i)
	}
	p.v3(alice, "", `{}`)
	// ... and while the proxy is down: its next poll (from the stored next_batch) is limited.
	p.stop()
	for i := 60; i < 130; i++ {
		send(upstream, i)
	}
	q := startProxy(t, upstream, dsn, syncv3proxy.Config{})
	s0 := q.v3(alice, "", `{}`)
	var gaps int
	if err := q.db.QueryRow(`SELECT COUNT(*) FROM syncv3proxy_gaps`).Scan(&gaps); err != nil || gaps != 2 {
		t.Fatalf("%d gaps recorded (%v), want 2", gaps, err)
	}
	// Walk back with pages of 7.
	var bodies, ids []string
	cursor := "1"
	for page := 0; cursor != ""; page++ {
		if page > 100 {
			t.Fatal("the walk never ends")
		}
		r := q.v3(alice, s0.Next, fmt.Sprintf(`{"room":{"room_id":%q,"timeline_limit":7,"p":{"since":%q}}}`, room, cursor))
		if r.Room == nil || r.Room.P == nil {
			t.Fatalf("page %d: %+v", page, r.Room)
		}
		var pageIDs []string
		for _, e := range r.Room.Timeline {
			pageIDs = append(pageIDs, e.EventID)
		}
		ids = append(pageIDs, ids...)
		bodies = append(timelineBodies(r), bodies...)
		cursor = r.Room.P.Next
	}
	if !reflect.DeepEqual(bodies, want) {
		t.Fatalf("walked %d messages %v\nwant %d %v", len(bodies), bodies, len(want), want)
	}
	if up := upstreamMessages(t, upstream, alice, room); !reflect.DeepEqual(ids, up) {
		t.Fatalf("walked %d events, the upstream's /messages has %d:\n%v\n%v", len(ids), len(up), ids, up)
	}
	if err := q.db.QueryRow(`SELECT COUNT(*) FROM syncv3proxy_gaps`).Scan(&gaps); err != nil || gaps != 0 {
		t.Fatalf("%d gaps left after the walk (%v)", gaps, err)
	}
	// The filled history stays: a second walk from a new session needs no upstream read
	// and returns the same.
	r := q.v3(alice, "", fmt.Sprintf(`{"room":{"room_id":%q,"timeline_limit":100,"p":{"since":"1"}}}`, room))
	r2 := q.v3(alice, r.Next, fmt.Sprintf(`{"room":{"p":{"since":%q}}}`, r.Room.P.Next))
	if got := append(timelineBodies(r2), timelineBodies(r)...); !reflect.DeepEqual(got, want) || r2.Room.P.Next != "" {
		t.Fatalf("second walk: %d messages, next %q", len(got), r2.Room.P.Next)
	}
}
