package routing

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/eventlog"
)

// topic3 collects the topic 3 records the eduserver publishes (arrow 6's effect).
type topic3 struct {
	mu   sync.Mutex
	recs []eduapi.OutputEDU
}

func (h *harness) watchTopic3() *topic3 {
	h.t.Helper()
	tp := &topic3{}
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	go func() {
		_ = h.log.Consumer().Consume(ctx, "axon."+eventlog.TopicEDU, "edu-test", func(_ context.Context, m eventlog.Message) error {
			var r eduapi.OutputEDU
			if err := json.Unmarshal(m.Value, &r); err != nil {
				return err
			}
			tp.mu.Lock()
			tp.recs = append(tp.recs, r)
			tp.mu.Unlock()
			return nil
		})
	}()
	return tp
}

func (tp *topic3) snapshot() []eduapi.OutputEDU {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]eduapi.OutputEDU(nil), tp.recs...)
}

// TestEDUEndpoints: typing, receipts, read markers and send-to-device (arrow 6) check who
// asks and what, and reach the eduserver (or, for m.fully_read, the room's account data).
func TestEDUEndpoints(t *testing.T) {
	forEachImpl(t, func(t *testing.T, newHarness harnessFunc) {
		h := newHarness(t)
		tp := h.watchTopic3()
		alice, bob, carol := h.register("alice"), h.register("bob"), h.register("carol")
		r := h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice.token, map[string]any{"preset": "public_chat"}), 200)
		room := r.str("room_id")
		rp := url.PathEscape(room)
		h.must(h.do("POST", "/_matrix/client/v3/rooms/"+rp+"/join", bob.token, map[string]any{}), 200)
		ev := h.must(h.do("PUT", "/_matrix/client/v3/rooms/"+rp+"/send/m.room.message/t1", alice.token,
			map[string]any{"msgtype": "m.text", "body": "hi"}), 200).str("event_id")
		evp := url.PathEscape(ev)
		typing := func(u testUser, target string) string {
			return "/_matrix/client/v3/rooms/" + rp + "/typing/" + url.PathEscape(target)
		}
		big := `{"messages":{"` + bob.id + `":{"*":{"x":"` + strings.Repeat("a", eduapi.MaxToDeviceMessageSize) + `"}}}}`
		tests := []struct {
			name, method, path, token string
			body                      any
			status                    int
			errcode                   string
		}{
			{"typing", "PUT", typing(bob, bob.id), bob.token, map[string]any{"typing": true, "timeout": 30000}, 200, ""},
			{"typing for another user", "PUT", typing(bob, alice.id), bob.token, map[string]any{"typing": true}, 403, "M_FORBIDDEN"},
			{"typing, not joined", "PUT", typing(carol, carol.id), carol.token, map[string]any{"typing": true}, 403, "M_FORBIDDEN"},
			{"typing without typing", "PUT", typing(bob, bob.id), bob.token, map[string]any{"timeout": 5}, 400, "M_BAD_JSON"},
			{"typing, negative timeout", "PUT", typing(bob, bob.id), bob.token, map[string]any{"typing": true, "timeout": -5}, 400, "M_INVALID_PARAM"},
			{"typing, unknown room", "PUT", "/_matrix/client/v3/rooms/" + url.PathEscape("!nope:test.local") + "/typing/" + url.PathEscape(bob.id),
				bob.token, map[string]any{"typing": true}, 403, "M_FORBIDDEN"},
			{"receipt", "POST", "/_matrix/client/v3/rooms/" + rp + "/receipt/m.read/" + evp, bob.token, map[string]any{}, 200, ""},
			{"receipt without body", "POST", "/_matrix/client/v3/rooms/" + rp + "/receipt/m.read.private/" + evp, bob.token, nil, 200, ""},
			{"threaded receipt", "POST", "/_matrix/client/v3/rooms/" + rp + "/receipt/m.read/" + evp, bob.token, map[string]any{"thread_id": "main"}, 200, ""},
			{"bad thread", "POST", "/_matrix/client/v3/rooms/" + rp + "/receipt/m.read/" + evp, bob.token, map[string]any{"thread_id": "nope"}, 400, "M_INVALID_PARAM"},
			{"unknown receipt type", "POST", "/_matrix/client/v3/rooms/" + rp + "/receipt/m.seen/" + evp, bob.token, map[string]any{}, 400, "M_INVALID_PARAM"},
			{"bad event ID", "POST", "/_matrix/client/v3/rooms/" + rp + "/receipt/m.read/nope", bob.token, map[string]any{}, 400, "M_INVALID_PARAM"},
			{"receipt, not joined", "POST", "/_matrix/client/v3/rooms/" + rp + "/receipt/m.read/" + evp, carol.token, map[string]any{}, 403, "M_FORBIDDEN"},
			{"fully_read receipt", "POST", "/_matrix/client/v3/rooms/" + rp + "/receipt/m.fully_read/" + evp, alice.token, map[string]any{}, 200, ""},
			{"fully_read with thread", "POST", "/_matrix/client/v3/rooms/" + rp + "/receipt/m.fully_read/" + evp, alice.token, map[string]any{"thread_id": "main"}, 400, "M_INVALID_PARAM"},
			{"read markers", "POST", "/_matrix/client/v3/rooms/" + rp + "/read_markers", bob.token, map[string]any{"m.fully_read": ev, "m.read": ev}, 200, ""},
			{"read markers, bad ID", "POST", "/_matrix/client/v3/rooms/" + rp + "/read_markers", bob.token, map[string]any{"m.read": 5}, 400, "M_BAD_JSON"},
			{"read markers, not joined", "POST", "/_matrix/client/v3/rooms/" + rp + "/read_markers", carol.token, map[string]any{"m.read": ev}, 403, "M_FORBIDDEN"},
			{"to-device", "PUT", "/_matrix/client/v3/sendToDevice/m.test/tx1", alice.token, map[string]any{"messages": map[string]any{
				bob.id: map[string]any{"*": map[string]any{"n": 1}}, carol.id: map[string]any{carol.device: map[string]any{"n": 2}, "GONE": map[string]any{"n": 3}},
				"@x:remote.test": map[string]any{"D": map[string]any{"n": 4}}}}, 200, ""},
			{"to-device, same txn", "PUT", "/_matrix/client/v3/sendToDevice/m.test/tx1", alice.token, map[string]any{"messages": map[string]any{
				bob.id: map[string]any{"*": map[string]any{"n": 1}}}}, 200, ""},
			{"to-device without messages", "PUT", "/_matrix/client/v3/sendToDevice/m.test/tx2", alice.token, map[string]any{}, 400, "M_MISSING_PARAM"},
			{"to-device, bad user", "PUT", "/_matrix/client/v3/sendToDevice/m.test/tx3", alice.token, map[string]any{"messages": map[string]any{
				"bob": map[string]any{"*": map[string]any{}}}}, 400, "M_INVALID_PARAM"},
			{"to-device, not an object", "PUT", "/_matrix/client/v3/sendToDevice/m.test/tx4", alice.token, map[string]any{"messages": map[string]any{
				bob.id: map[string]any{"*": "hello"}}}, 400, "M_BAD_JSON"},
			{"to-device, too large", "PUT", "/_matrix/client/v3/sendToDevice/m.test/tx5", alice.token, big, 413, "M_TOO_LARGE"},
			{"to-device, no token", "PUT", "/_matrix/client/v3/sendToDevice/m.test/tx6", "", map[string]any{"messages": map[string]any{}}, 401, "M_MISSING_TOKEN"},
		}
		for _, tt := range tests {
			got := h.do(tt.method, tt.path, tt.token, tt.body)
			if got.status != tt.status || got.errcode() != tt.errcode {
				t.Fatalf("%s: %d %s, want %d %s", tt.name, got.status, got.raw, tt.status, tt.errcode)
			}
		}
		if got := h.edu.Typers(room); len(got) != 1 || got[0] != bob.id {
			t.Fatalf("typers %v", got)
		}
		// The read markers are the room's m.fully_read account data.
		h.must(h.do("GET", "/_matrix/client/v3/user/"+url.PathEscape(alice.id)+"/rooms/"+rp+"/account_data/m.fully_read", alice.token, nil), 200)
		// Topic 3: one typing, four receipts (m.read, m.read.private, threaded m.read, the
		// read markers' m.read), and one to-device message each for bob's device and
		// carol's existing device: the remote user, the unknown device and the repeated
		// transaction sent nothing.
		want := map[string]int{eduapi.OutputTypingKind: 1, eduapi.OutputReceiptKind: 4, eduapi.OutputToDeviceKind: 2}
		var got map[string]int
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			got = map[string]int{}
			for _, r := range tp.snapshot() {
				got[r.Kind]++
				if r.Kind == eduapi.OutputToDeviceKind && (r.ToDevice.DeviceID == "GONE" || r.ToDevice.Sender != alice.id) {
					t.Fatalf("to-device record %+v", r.ToDevice)
				}
			}
			if len(got) == len(want) && got[eduapi.OutputTypingKind] == 1 && got[eduapi.OutputReceiptKind] == 4 && got[eduapi.OutputToDeviceKind] == 2 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		for k, n := range want {
			if got[k] != n {
				t.Fatalf("topic 3 records %v, want %v", got, want)
			}
		}
	})
}
