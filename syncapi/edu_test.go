package syncapi_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"
	"time"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/testenv"
)

// eduSync is the part of a /sync response the topic 3 tests look at.
type eduSync struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Ephemeral struct {
				Events []struct {
					Type    string          `json:"type"`
					Content json.RawMessage `json:"content"`
				} `json:"events"`
			} `json:"ephemeral"`
		} `json:"join"`
	} `json:"rooms"`
	ToDevice struct {
		Events []struct {
			Type    string         `json:"type"`
			Sender  string         `json:"sender"`
			Content map[string]any `json:"content"`
		} `json:"events"`
	} `json:"to_device"`
}

func (h *harness) eduSync(token, query string) eduSync {
	h.t.Helper()
	req := httptest.NewRequest("GET", "/_matrix/client/v3/sync?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	if rec.Code != 200 {
		h.t.Fatalf("sync %s: %d %s", query, rec.Code, rec.Body.String())
	}
	var r eduSync
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// edu hands a topic 3 record to the consumer.
func (h *harness) edu(out eduapi.OutputEDU) {
	h.t.Helper()
	b, _ := json.Marshal(out)
	if err := h.api.EDUs.Handle(context.Background(), eventlog.Message{Topic: "edu", Key: "k", Value: b}); err != nil {
		h.t.Fatalf("handle edu pos %d: %v", out.StreamPos, err)
	}
}

func typingRec(pos int64, room string, expires int64, users ...string) eduapi.OutputEDU {
	t := &eduapi.OutputTyping{RoomID: room, Typers: []eduapi.Typer{}}
	for _, u := range users {
		t.Typers = append(t.Typers, eduapi.Typer{UserID: u, ExpiresTS: expires})
	}
	return eduapi.OutputEDU{Kind: eduapi.OutputTypingKind, StreamPos: pos, Typing: t}
}

func receiptRec(pos int64, room, userID, typ, eventID string) eduapi.OutputEDU {
	return eduapi.OutputEDU{Kind: eduapi.OutputReceiptKind, StreamPos: pos, Receipt: &eduapi.OutputReceipt{
		RoomID: room, UserID: userID, Type: typ, EventID: eventID, TS: 1700000000123}}
}

func toDeviceRec(pos int64, userID, deviceID, body string) eduapi.OutputEDU {
	return eduapi.OutputEDU{Kind: eduapi.OutputToDeviceKind, StreamPos: pos, ToDevice: &eduapi.OutputToDevice{
		Sender: user("carol"), Type: "m.test", UserID: userID, DeviceID: deviceID, Content: json.RawMessage(`{"body":"` + body + `"}`)}}
}

// ephemeralOf returns a joined room's ephemeral events as type → content.
func (r eduSync) ephemeralOf(room string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, e := range r.Rooms.Join[room].Ephemeral.Events {
		var c map[string]any
		_ = json.Unmarshal(e.Content, &c)
		out[e.Type] = c
	}
	return out
}

func (r eduSync) toDeviceBodies() []string {
	var out []string
	for _, e := range r.ToDevice.Events {
		out = append(out, e.Content["body"].(string))
	}
	return out
}

func typers(c map[string]any) []string {
	out := []string{}
	for _, u := range c["user_ids"].([]any) {
		out = append(out, u.(string))
	}
	sort.Strings(out)
	return out
}

// receiptUsers returns "type user event" of every receipt in an m.receipt content, sorted.
func receiptUsers(c map[string]any) []string {
	var out []string
	for ev, byType := range c {
		for typ, byUser := range byType.(map[string]any) {
			for u := range byUser.(map[string]any) {
				out = append(out, typ+" "+u+" "+ev)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestEDUInSync: topic 3 records reach /sync — typing as the room's current typers (expired
// ones hidden), receipts since the token (m.read.private only to its owner), to-device
// messages for the device until a later since acknowledges them — and a record above a gap
// waits for the gap; the to-device messages survive a restart of the syncapi.
func TestEDUInSync(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			h := newHarness(t, dsn)
			room := "!edu:test"
			alice, bob := user("alice"), user("bob")
			h.createRoom(room, alice)
			h.member(room, bob, bob, "join")
			ev1 := h.msg(room, alice, "hello")
			future := time.Now().Add(time.Hour).UnixMilli()

			s0 := h.eduSync("alice_tok", "")
			if len(s0.Rooms.Join[room].Ephemeral.Events) != 0 || len(s0.ToDevice.Events) != 0 {
				t.Fatalf("initial sync without EDUs: %+v", s0)
			}

			// Typing wakes a long-poll of a room member.
			done := make(chan eduSync, 1)
			go func() { done <- h.eduSync("alice_tok", "timeout=10000&since="+s0.NextBatch) }()
			time.Sleep(100 * time.Millisecond)
			h.edu(typingRec(1, room, future, bob))
			var s1 eduSync
			select {
			case s1 = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("typing did not wake the long-poll")
			}
			if got := typers(s1.ephemeralOf(room)["m.typing"]); !reflect.DeepEqual(got, []string{bob}) {
				t.Fatalf("typers %v", got)
			}
			if s := h.eduSync("alice_tok", "since="+s1.NextBatch); len(s.Rooms.Join) != 0 {
				t.Fatalf("typing sent again: %+v", s)
			}

			// Receipts: the public one to everyone, the private one to its owner only.
			h.edu(receiptRec(2, room, bob, "m.read", ev1))
			h.edu(receiptRec(3, room, bob, "m.read.private", ev1))
			s2 := h.eduSync("alice_tok", "since="+s1.NextBatch)
			if got := receiptUsers(s2.ephemeralOf(room)["m.receipt"]); !reflect.DeepEqual(got, []string{"m.read " + bob + " " + ev1}) {
				t.Fatalf("alice's receipts %v", got)
			}
			if _, ok := s2.ephemeralOf(room)["m.typing"]; ok {
				t.Fatalf("unchanged typing sent again: %+v", s2)
			}
			b0 := h.eduSync("bob_tok", "")
			if got := receiptUsers(b0.ephemeralOf(room)["m.receipt"]); len(got) != 2 {
				t.Fatalf("bob's initial receipts %v", got)
			}
			if got := typers(b0.ephemeralOf(room)["m.typing"]); !reflect.DeepEqual(got, []string{bob}) {
				t.Fatalf("bob's initial typers %v", got)
			}

			// Typing that expired without a stop record is hidden.
			h.edu(typingRec(4, room, time.Now().Add(-time.Second).UnixMilli(), bob))
			s3 := h.eduSync("alice_tok", "since="+s2.NextBatch)
			if got := typers(s3.ephemeralOf(room)["m.typing"]); len(got) != 0 {
				t.Fatalf("expired typers shown: %v", got)
			}

			// To-device: delivered to the device until acknowledged, never to another.
			h.edu(toDeviceRec(5, alice, "ALICEDEV", "one"))
			h.edu(toDeviceRec(6, alice, "OTHERDEV", "not yours"))
			s4 := h.eduSync("alice_tok", "since="+s3.NextBatch)
			if got := s4.toDeviceBodies(); !reflect.DeepEqual(got, []string{"one"}) || s4.ToDevice.Events[0].Sender != user("carol") {
				t.Fatalf("to-device %+v", s4.ToDevice)
			}
			if got := h.eduSync("alice_tok", "since="+s3.NextBatch).toDeviceBodies(); !reflect.DeepEqual(got, []string{"one"}) {
				t.Fatalf("unacknowledged message not sent again: %v", got)
			}
			if got := h.eduSync("alice_tok", "since="+s4.NextBatch).toDeviceBodies(); len(got) != 0 {
				t.Fatalf("acknowledged message sent again: %v", got)
			}
			if got := h.eduSync("alice_tok", "").toDeviceBodies(); len(got) != 0 {
				t.Fatalf("acknowledged message not deleted: %v", got)
			}

			// A record above a gap waits for it.
			h.edu(toDeviceRec(8, alice, "ALICEDEV", "three"))
			if got := h.eduSync("alice_tok", "since="+s4.NextBatch).toDeviceBodies(); len(got) != 0 {
				t.Fatalf("record above the gap shown: %v", got)
			}
			h.edu(toDeviceRec(7, alice, "ALICEDEV", "two"))
			h.edu(toDeviceRec(7, alice, "ALICEDEV", "two")) // a replay changes nothing

			// A restart of the syncapi keeps what was not acknowledged.
			h2 := newHarness(t, dsn)
			s5 := h2.eduSync("alice_tok", "since="+s4.NextBatch)
			if got := s5.toDeviceBodies(); !reflect.DeepEqual(got, []string{"two", "three"}) {
				t.Fatalf("after restart: %v", got)
			}
			if got := h2.eduSync("alice_tok", "since="+s5.NextBatch).toDeviceBodies(); len(got) != 0 {
				t.Fatalf("after restart, acknowledged: %v", got)
			}
			if got := receiptUsers(h2.eduSync("alice_tok", "").ephemeralOf(room)["m.receipt"]); len(got) != 1 {
				t.Fatalf("receipts after restart %v", got)
			}
			// An older token without the edu part still works (edu position 0).
			if _, b := h2.get("alice_tok", "/_matrix/client/v3/sync?since=s1_0"); b["next_batch"] == nil {
				t.Fatalf("old token: %v", b)
			}
		})
	}
}

// TestToDeviceBatches: more than MaxToDevicePerSync waiting messages come in batches whose
// next_batch names the last one delivered, in order, each once.
func TestToDeviceBatches(t *testing.T) {
	h := newHarness(t, testenv.SQLitePath(t, "todevice"))
	const n = 130
	for i := 1; i <= n; i++ {
		h.edu(toDeviceRec(int64(i), user("alice"), "ALICEDEV", string(rune('a'+i%26))))
	}
	s1 := h.eduSync("alice_tok", "")
	s2 := h.eduSync("alice_tok", "since="+s1.NextBatch)
	s3 := h.eduSync("alice_tok", "since="+s2.NextBatch)
	if len(s1.ToDevice.Events) != 100 || len(s2.ToDevice.Events) != n-100 || len(s3.ToDevice.Events) != 0 {
		t.Fatalf("batches %d, %d, %d", len(s1.ToDevice.Events), len(s2.ToDevice.Events), len(s3.ToDevice.Events))
	}
}
