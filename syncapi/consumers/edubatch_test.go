package consumers

import (
	"context"
	"encoding/json"
	"testing"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/syncapi/internal"
	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// TestEDUHandleBatch: a topic 3 batch of to-device records (stored as one run) mixed with
// a typing record, a gap closed later in the batch and a repeated record: every message is
// stored once, the watermark ends at the newest position, and the whole batch delivered
// again changes nothing.
func TestEDUHandleBatch(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			sdb, err := storage.NewDatabase(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			n := internal.NewNotifier(types.StreamToken{})
			c := NewEDUConsumer(sdb, n)
			rec := func(out eduapi.OutputEDU) eventlog.Message {
				b, _ := json.Marshal(out)
				return eventlog.Message{Value: b}
			}
			td := func(pos int64, user string) eventlog.Message {
				return rec(eduapi.OutputEDU{Kind: eduapi.OutputToDeviceKind, StreamPos: pos, ToDevice: &eduapi.OutputToDevice{
					Sender: "@s:test", Type: "m.test", UserID: user, DeviceID: "DEV", Content: json.RawMessage(`{"n":1}`)}})
			}
			typing := rec(eduapi.OutputEDU{Kind: eduapi.OutputTypingKind, StreamPos: 3, Typing: &eduapi.OutputTyping{RoomID: "!r:test",
				Typers: []eduapi.Typer{{UserID: "@s:test", ExpiresTS: 1}}}})
			batch := []eventlog.Message{td(1, "@a:test"), td(2, "@b:test"), typing, td(5, "@c:test"), td(2, "@b:test"), td(4, "@d:test"),
				{Value: []byte("not json")}}
			for round := range 2 {
				if err := c.HandleBatch(ctx, batch); err != nil {
					t.Fatal(err)
				}
				if pos := n.Position().EDU; pos != 5 {
					t.Fatalf("round %d: edu position %d, want 5", round, pos)
				}
				for user, want := range map[string]int64{"@a:test": 1, "@b:test": 2, "@c:test": 5, "@d:test": 4} {
					got, err := sdb.ToDeviceBetween(ctx, user, "DEV", 0, 10, 10)
					if err != nil || len(got) != 1 || got[0].StreamPos != want {
						t.Fatalf("round %d: messages of %s: %+v %v, want one at %d", round, user, got, err, want)
					}
				}
			}
		})
	}
}

// TestEDUHandleBatchReceipts: receipts of a room's members arrive as one run (topic 3's
// key is the room), mixed with a to-device record, one above a gap that a later record of
// the batch closes, and a newer and an older receipt of one user: each user's newest
// receipt is stored, the watermark ends at the newest position, and the batch delivered
// again changes nothing.
func TestEDUHandleBatchReceipts(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			sdb, err := storage.NewDatabase(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			n := internal.NewNotifier(types.StreamToken{})
			c := NewEDUConsumer(sdb, n)
			rec := func(out eduapi.OutputEDU) eventlog.Message {
				b, _ := json.Marshal(out)
				return eventlog.Message{Value: b}
			}
			receipt := func(pos int64, user, event string) eventlog.Message {
				return rec(eduapi.OutputEDU{Kind: eduapi.OutputReceiptKind, StreamPos: pos, Receipt: &eduapi.OutputReceipt{
					RoomID: "!r:test", UserID: user, Type: "m.read", EventID: event, TS: pos}})
			}
			td := rec(eduapi.OutputEDU{Kind: eduapi.OutputToDeviceKind, StreamPos: 3, ToDevice: &eduapi.OutputToDevice{
				Sender: "@s:test", Type: "m.test", UserID: "@a:test", DeviceID: "DEV", Content: json.RawMessage(`{"n":1}`)}})
			batch := []eventlog.Message{receipt(1, "@a:test", "$1"), receipt(4, "@b:test", "$4"), td, receipt(2, "@b:test", "$2"),
				receipt(5, "@a:test", "$5"), receipt(1, "@a:test", "$1")}
			for round := range 2 {
				if err := c.HandleBatch(ctx, batch); err != nil {
					t.Fatal(err)
				}
				if pos := n.Position().EDU; pos != 5 {
					t.Fatalf("round %d: edu position %d, want 5", round, pos)
				}
				got, err := sdb.ReceiptsBetween(ctx, []string{"!r:test"}, 0, 10)
				if err != nil {
					t.Fatal(err)
				}
				events := map[string]string{}
				for _, r := range got {
					events[r.UserID] = r.EventID
				}
				if len(got) != 2 || events["@a:test"] != "$5" || events["@b:test"] != "$4" {
					t.Fatalf("round %d: receipts %+v, want a at $5 and b at $4", round, got)
				}
				if msgs, err := sdb.ToDeviceBetween(ctx, "@a:test", "DEV", 0, 10, 10); err != nil || len(msgs) != 1 {
					t.Fatalf("round %d: to-device %+v %v", round, msgs, err)
				}
			}
		})
	}
}
