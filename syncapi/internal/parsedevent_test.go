package internal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// An event carrying a Derived (the shared reads) is parsed and rendered once; every
// recipient must still get exactly what rendering it for them alone gives: their own
// unsigned.age, their own unsigned.membership (a remote's is never passed on),
// transaction_id for the sender's device only, and the same for room_id, state, redacted,
// federation-format and event_fields renderings (those are not shared).
func TestSharedRenderingMatchesOwn(t *testing.T) {
	fed := func(extra string) []byte {
		return []byte(`{"room_id":"!r:t","sender":"@a:t","type":"m.room.message","content":{"body":"x"},"origin_server_ts":1000,` +
			`"depth":3,"hashes":{"sha256":"h"}` + extra + `}`)
	}
	msg := storage.Event{EventID: "$e", RoomID: "!r:t", Type: "m.room.message", Sender: "@a:t", OriginServerTS: 1000,
		JSON: fed(`,"unsigned":{"age_ts":5}`), TxnDeviceID: "DEV", TxnID: "txn"}
	early := msg
	early.JSON = fed(`,"unsigned":{"Zz":1,"_a":{"b":2},"age":77}`) // keys sorting before and after age; a stored age
	noTS := msg
	noTS.OriginServerTS = 0
	noTS.JSON = []byte(`{"room_id":"!r:t","sender":"@a:t","type":"m.room.message","content":{},"unsigned":{"age":5}}`)
	noUnsigned := msg
	noUnsigned.OriginServerTS, noUnsigned.JSON = 0, []byte(`{"sender":"@a:t","type":"m.room.message","content":{}}`)
	state := storage.Event{EventID: "$s", RoomID: "!r:t", Type: "m.room.topic", Sender: "@a:t", StateKey: new(string),
		OriginServerTS: 2000, JSON: []byte(`{"type":"m.room.topic","state_key":"","sender":"@a:t","content":{"topic":"t"},"origin_server_ts":2000}`),
		ReplacesState: "$old", PrevContent: []byte(`{"topic":"o"}`), PrevSender: "@b:t"}
	redacted := msg
	redacted.JSON = fed("")
	redacted.RedactedBecause = []byte(`{"event_id":"$red","type":"m.room.redaction","sender":"@a:t","room_id":"!r:t",` +
		`"content":{},"redacts":"$e","origin_server_ts":1500}`)
	remoteMembership := msg
	remoteMembership.JSON = fed(`,"unsigned":{"membership":"ban","age":3}`)
	redaction := storage.Event{EventID: "$red", RoomID: "!r:t", Type: "m.room.redaction", Sender: "@a:t", OriginServerTS: 1500,
		JSON: []byte(`{"type":"m.room.redaction","sender":"@a:t","content":{"redacts":"$x"},"origin_server_ts":1500}`)}

	recipients := []FormatOptions{
		{UserID: "@b:t", DeviceID: "BDEV"},
		{UserID: "@a:t", DeviceID: "DEV"},   // the sender's device: transaction_id
		{UserID: "@a:t", DeviceID: "OTHER"}, // the sender's other device
		{UserID: "@b:t", DeviceID: "BDEV", IncludeRoomID: true},
		{UserID: "@a:t", DeviceID: "DEV", IncludeRoomID: true},
		{UserID: "@b:t", DeviceID: "BDEV", Federation: true},
		{UserID: "@b:t", DeviceID: "BDEV", Fields: []string{"content", "unsigned.age"}},
		{UserID: "@b:t", DeviceID: "BDEV", membership: fixedMembership("join")},
		{UserID: "@c:t", DeviceID: "CDEV", membership: fixedMembership("leave"), IncludeRoomID: true},
		{UserID: "@a:t", DeviceID: "DEV", membership: fixedMembership("invite")},
		{UserID: "@b:t", DeviceID: "BDEV", membership: fixedMembership("we\"ird\u00e9")},
		{UserID: "@b:t", DeviceID: "BDEV", membership: fixedMembership("join"), Fields: []string{"unsigned.membership"}},
		{UserID: "@b:t", DeviceID: "BDEV", membership: fixedMembership("join"), Federation: true},
		{UserID: "@b:t", DeviceID: "BDEV", Now: time.Time{}}, // no clock: no age, not shared (last)
	}
	nows := []time.Time{time.UnixMilli(4000), time.UnixMilli(4000), time.UnixMilli(987654321), time.UnixMilli(500) /* before ts: age 0 */}
	tests := []struct {
		name string
		ev   storage.Event
	}{
		{"message", msg}, {"unsigned keys around age", early}, {"no origin_server_ts", noTS}, {"no unsigned", noUnsigned},
		{"state with prev_content", state}, {"redacted", redacted}, {"redaction", redaction},
		{"remote unsigned.membership", remoteMembership},
	}
	for _, tc := range tests {
		shared := tc.ev
		shared.Derived = &storage.Derived{}
		for ri, r := range recipients {
			for ni, now := range nows {
				o := r
				if ri != len(recipients)-1 {
					o.Now = now
				}
				own := tc.ev // no Derived: rendered for this recipient alone
				want := ClientEvent(&own, o)
				copyOf := shared // a copy of the shared read, as scanTimeline makes
				got := ClientEvent(&copyOf, o)
				if !bytes.Equal(got, want) {
					t.Errorf("%s, recipient %d, now %d:\n got %s\nwant %s", tc.name, ri, ni, got, want)
				}
				var dec struct {
					Unsigned map[string]any `json:"unsigned"`
				}
				_ = json.Unmarshal(got, &dec)
				wantM, hasM := any(nil), false
				if o.membership != nil {
					wantM, hasM = o.membership.membershipAt(&own), true
				}
				if m, ok := dec.Unsigned["membership"]; ok != hasM || m != wantM {
					t.Errorf("%s, recipient %d: unsigned.membership %v (%v), want %v (%v)", tc.name, ri, m, ok, wantM, hasM)
				}
			}
		}
	}
}

// TestSharedRenderingOnce: the shared rendering is made once per event and room_id option
// and later recipients only write their age into it.
func TestSharedRenderingOnce(t *testing.T) {
	e := storage.Event{EventID: "$e", Type: "m.room.message", Sender: "@a:t", OriginServerTS: 1000,
		JSON: []byte(`{"type":"m.room.message","sender":"@a:t","content":{"body":"x"},"origin_server_ts":1000}`), Derived: &storage.Derived{}}
	first := ClientEvent(&e, FormatOptions{UserID: "@b:t", Now: time.UnixMilli(3000)})
	p := parsedOf(&e)
	if p != parsedOf(&e) {
		t.Fatal("the event was parsed twice")
	}
	r := p.rendered(&e, false, false)
	for i := range 5 {
		got := ClientEvent(&e, FormatOptions{UserID: fmt.Sprint("@u", i, ":t"), Now: time.UnixMilli(int64(3000 + i))})
		want := fmt.Sprintf(`{"content":{"body":"x"},"event_id":"$e","origin_server_ts":1000,"sender":"@a:t","type":"m.room.message","unsigned":{"age":%d}}`, 2000+i)
		if string(got) != want {
			t.Fatalf("recipient %d: got %s want %s", i, got, want)
		}
	}
	if p.rendered(&e, false, false) != r || string(first) != `{"content":{"body":"x"},"event_id":"$e","origin_server_ts":1000,"sender":"@a:t","type":"m.room.message","unsigned":{"age":2000}}` {
		t.Fatalf("rendered again, or first rendering %s", first)
	}
	// A caller appending to its copy must not change what the next recipient gets.
	_ = append(first, '!')
	if got := ClientEvent(&e, FormatOptions{Now: time.UnixMilli(3000)}); !bytes.Equal(got, first) {
		t.Fatalf("got %s", got)
	}
}

// TestSharedRenderingConcurrent: the requests one event woke render it at the same time
// (run with -race); each gets its own age.
func TestSharedRenderingConcurrent(t *testing.T) {
	e := storage.Event{EventID: "$e", Type: "m.room.message", Sender: "@a:t", OriginServerTS: 1000,
		JSON: []byte(`{"type":"m.room.message","sender":"@a:t","content":{"body":"x"},"origin_server_ts":1000}`), Derived: &storage.Derived{}}
	const n = 16
	got := make([]json.RawMessage, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cp := e
			if len(eventContent(&cp)) == 0 {
				t.Error("no content")
			}
			got[i] = ClientEvent(&cp, FormatOptions{UserID: fmt.Sprint("@u", i, ":t"), Now: time.UnixMilli(int64(2000 + i))})
		}()
	}
	wg.Wait()
	for i, g := range got {
		want := fmt.Sprintf(`{"content":{"body":"x"},"event_id":"$e","origin_server_ts":1000,"sender":"@a:t","type":"m.room.message","unsigned":{"age":%d}}`, 1000+i)
		if string(g) != want {
			t.Fatalf("recipient %d: got %s want %s", i, g, want)
		}
	}
}

// fixedMembership is a roomVisibility whose user has had membership m since before any
// event of the tests.
func fixedMembership(m string) *roomVisibility {
	return &roomVisibility{memberships: []storage.Membership{{Pos: -1, Membership: m}}}
}
