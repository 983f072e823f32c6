package syncv3proxy_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// roomCounts is a room's notification_count and highlight_count in a room_list answer
// (-1: absent); ok is false when the room is not in it.
func roomCounts(r v3Resp, room string) (c [2]int, ok bool) {
	if r.RoomList == nil {
		return c, false
	}
	for _, rm := range r.RoomList.Rooms {
		if rm.RoomID != room {
			continue
		}
		c = [2]int{-1, -1}
		if rm.NotificationCount != nil {
			c[0] = *rm.NotificationCount
		}
		if rm.HighlightCount != nil {
			c[1] = *rm.HighlightCount
		}
		return c, true
	}
	return c, false
}

// testRoomListCounts: the proxy serves the upstream's unread_notifications as room_list's
// notification_count and highlight_count: another user's messages raise them, a mention
// raises highlight_count, and the user's m.read receipt (passed through to the upstream)
// brings a delta with zero, waking a long-poll.
func testRoomListCounts(t *testing.T, p *proxy, pfx string) {
	alice, aliceTok := p.register(pfx + "cnt_a")
	_, bobTok := p.register(pfx + "cnt_b")
	room := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", aliceTok, map[string]any{"preset": "public_chat", "name": "Counted"}).Must(t, 200).Str("room_id")
	join(t, p, bobTok, room)
	body := `{"room_list":{"fields":["name","notification_count","highlight_count"],"p":{"since":"1"}}}`
	r0 := p.v3(aliceTok, "", body)
	if r0.RoomList == nil || !slices.Equal(r0.RoomList.Fields, []string{"name", "notification_count", "highlight_count"}) {
		t.Fatalf("fields: %+v", r0.RoomList)
	}
	if c, ok := roomCounts(r0, room); !ok || c != [2]int{0, 0} {
		t.Fatalf("first page before any message: %v %v", c, ok)
	}
	// waitCounts reads deltas after since until the room shows want (every delta that
	// names the room carries both counts); it returns the next since.
	waitCounts := func(since string, want [2]int) string {
		t.Helper()
		var last [2]int
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			code, r := p.v3Raw(aliceTok, "timeout=5000&since="+url.QueryEscape(since), `{}`)
			if code != 200 {
				t.Fatalf("delta: %d %+v", code, r)
			}
			since = r.Next
			if c, ok := roomCounts(r, room); ok {
				if c[0] < 0 || c[1] < 0 {
					t.Fatalf("a delta without the counts: %v", c)
				}
				if last = c; c == want {
					return since
				}
			}
		}
		t.Fatalf("counts never became %v (last %v)", want, last)
		return ""
	}
	p.send(bobTok, room, "one")
	p.send(bobTok, room, "two")
	since := waitCounts(r0.Next, [2]int{2, 0})
	// A mention highlights: by m.mentions and by the display name in the body (whichever
	// push rule the upstream applies).
	localpart := strings.TrimPrefix(strings.SplitN(alice, ":", 2)[0], "@")
	p.counter++
	last := p.do(http.MethodPut, fmt.Sprintf("/_matrix/client/v3/rooms/%s/send/m.room.message/c%d", url.PathEscape(room), p.counter), bobTok,
		map[string]any{"msgtype": "m.text", "body": "hello " + localpart, "m.mentions": map[string]any{"user_ids": []string{alice}}}).Must(t, 200).Str("event_id")
	since = waitCounts(since, [2]int{3, 1})
	// A new session's first page has the counts too.
	if c, ok := roomCounts(p.v3(aliceTok, "", body), room); !ok || c != [2]int{3, 1} {
		t.Fatalf("first page after the messages: %v %v", c, ok)
	}
	// The read receipt, through the proxy, sent while a long-poll waits: the upstream's
	// zero counts wake it with the room in a delta.
	receipt := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/receipt/m.read/%s", p.base, url.PathEscape(room),
			url.PathEscape(last)), strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+aliceTok)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode != 200 {
				err = fmt.Errorf("status %d", res.StatusCode)
			}
		}
		receipt <- err
	}()
	start := time.Now()
	for deadline := start.Add(20 * time.Second); ; {
		code, r := p.v3Raw(aliceTok, "timeout=20000&since="+url.QueryEscape(since), `{}`)
		if code != 200 {
			t.Fatalf("delta after the receipt: %d %+v", code, r)
		}
		if c, ok := roomCounts(r, room); ok && c == [2]int{0, 0} {
			break
		}
		if time.Now().After(deadline) || r.Next == since {
			t.Fatalf("the receipt's zero counts never came (last answer %+v after %s)", r.RoomList, time.Since(start))
		}
		since = r.Next
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("the long-poll woke only after %s", d)
	}
	if err := <-receipt; err != nil {
		t.Fatalf("the receipt: %v", err)
	}
}
