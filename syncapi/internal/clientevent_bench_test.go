package internal

import (
	"testing"
	"time"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// BenchmarkClientEvent is the per-event cost of every /sync timeline: a signed room v10
// message rendered in the client format for a member who did not send it.
func BenchmarkClientEvent(b *testing.B) {
	fed := []byte(`{"auth_events":["$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB","$CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"],` +
		`"content":{"axon_loadtest_id":"abc.1.2","body":"load abc.1.2","msgtype":"m.text"},"depth":1234,` +
		`"hashes":{"sha256":"Ff7Pk9vP0Jx2gqk2q6eXb1Y9lO1m6t3gA6cK7Ckq0+0"},"origin":"localhost","origin_server_ts":1733300000000,` +
		`"prev_events":["$DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"],"room_id":"!room:localhost","sender":"@lt_1:localhost",` +
		`"signatures":{"localhost":{"ed25519:a_AAAA":"c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2ln"}},` +
		`"type":"m.room.message","unsigned":{"age_ts":1733300000000}}`)
	e := &storage.Event{EventID: "$EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE", RoomID: "!room:localhost", Type: "m.room.message",
		Sender: "@lt_1:localhost", OriginServerTS: 1733300000000, JSON: fed, TxnDeviceID: "DEV", TxnID: "t1"}
	o := FormatOptions{UserID: "@lt_2:localhost", DeviceID: "OTHER", Now: time.UnixMilli(1733300000500)}
	b.ReportAllocs()
	for b.Loop() {
		_ = ClientEvent(e, o)
	}
}

// BenchmarkClientEventTenRecipients is one message's per-recipient work in a room of 10
// that all /sync: the filter's look at its content and its client-format rendering, for
// each member (one of them the sender's device). "own" parses and renders for each alone
// (the database path), "shared" as the requests one event woke do (Event.Derived).
func BenchmarkClientEventTenRecipients(b *testing.B) {
	fed := []byte(`{"auth_events":["$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"],` +
		`"content":{"axon_loadtest_id":"abc.1.2","body":"load abc.1.2","msgtype":"m.text"},"depth":1234,` +
		`"hashes":{"sha256":"Ff7Pk9vP0Jx2gqk2q6eXb1Y9lO1m6t3gA6cK7Ckq0+0"},"origin":"localhost","origin_server_ts":1733300000000,` +
		`"prev_events":["$DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"],"room_id":"!room:localhost","sender":"@lt_0:localhost",` +
		`"signatures":{"localhost":{"ed25519:a_AAAA":"c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2ln"}},` +
		`"type":"m.room.message","unsigned":{"age_ts":1733300000000}}`)
	var f RoomEventFilter
	for _, shared := range []bool{false, true} {
		name := "own"
		if shared {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e := storage.Event{EventID: "$EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE", RoomID: "!room:localhost", Type: "m.room.message",
					Sender: "@lt_0:localhost", OriginServerTS: 1733300000000, JSON: fed, TxnDeviceID: "LT_0DEV", TxnID: "t1"}
				if shared {
					e.Derived = &storage.Derived{}
				}
				for r := range 10 {
					cp := e
					if !f.MatchesEvent(cp.RoomID, cp.Type, cp.Sender, eventContent(&cp)) {
						b.Fatal("filtered out")
					}
					u := "@lt_" + string(rune('0'+r)) + ":localhost"
					_ = ClientEvent(&cp, FormatOptions{UserID: u, DeviceID: "LT_" + string(rune('0'+r)) + "DEV", Now: time.UnixMilli(1733300000500)})
				}
			}
		})
	}
}
