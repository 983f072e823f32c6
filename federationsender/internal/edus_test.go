package internal

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/federationsender/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix/federation"
)

// fakeTransmitter records every transaction attempt and fails while failing is set.
type fakeTransmitter struct {
	mu      sync.Mutex
	failing bool
	sent    []sentTxn
}

type sentTxn struct {
	dest, id string
	ok       bool
	items    []string // PDU event IDs and "edu_type:content" of the EDUs
}

func (f *fakeTransmitter) SendTransaction(_ context.Context, dest, txnID string, txn federation.Transaction) (federation.SendTransactionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := sentTxn{dest: dest, id: txnID, ok: !f.failing}
	for _, p := range txn.PDUs {
		var e struct {
			ID string `json:"event_id"`
		}
		_ = json.Unmarshal(p, &e)
		s.items = append(s.items, e.ID)
	}
	for _, e := range txn.EDUs {
		s.items = append(s.items, e.Type+":"+string(e.Content))
	}
	f.sent = append(f.sent, s)
	if f.failing {
		return federation.SendTransactionResponse{}, errors.New("down")
	}
	return federation.SendTransactionResponse{}, nil
}

func (f *fakeTransmitter) setFailing(b bool) {
	f.mu.Lock()
	f.failing = b
	f.mu.Unlock()
}

func (f *fakeTransmitter) snapshot() []sentTxn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentTxn(nil), f.sent...)
}

// delivered is the items of the transactions to dest answered 200, one list per
// transaction.
func (f *fakeTransmitter) delivered(dest string) [][]string {
	var out [][]string
	for _, s := range f.snapshot() {
		if s.ok && s.dest == dest {
			out = append(out, s.items)
		}
	}
	return out
}

func topic5(id int64, typ, content string, dests ...string) eventlog.Message {
	v, _ := json.Marshal(eduapi.OutputFederationEDU{ID: id, Destinations: dests, EDU: eduapi.FederationEDU{Type: typ, Content: json.RawMessage(content)}})
	return eventlog.Message{Key: "k", Value: v, Offset: id}
}

// TestEDUQueue: topic 5 records are queued once per destination (never this server),
// leave beside the PDUs in the destination's transactions, survive a failing destination
// (receipts and to-device), while typing and presence that waited too long are dropped.
func TestEDUQueue(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			db := openDB(t, dsn(t))
			tx := &fakeTransmitter{}
			q := NewQueues(db, tx, testOrigin, Backoff{Base: 20 * time.Millisecond, Max: 50 * time.Millisecond})
			c := NewEDUConsumer(db, q, testOrigin)
			now := time.Now()
			at := func(d time.Duration) { c.Now = func() time.Time { return now.Add(d) } }
			handle := func(msgs ...eventlog.Message) {
				t.Helper()
				if err := c.Handle(ctx, msgs); err != nil {
					t.Fatal(err)
				}
			}
			const dest = "dest.test"
			// Queued before the senders run (as after a restart): a stale typing, a stale
			// receipt (kept), a to-device message and presence, a repeated record, a
			// malformed one; and one PDU.
			at(-2 * time.Minute)
			handle(topic5(1, "m.typing", `{"t":1}`, dest, testOrigin), topic5(2, "m.receipt", `{"r":2}`, dest))
			at(0)
			handle(topic5(3, "m.direct_to_device", `{"d":3}`, dest), topic5(4, "m.presence", `{"p":4}`, dest, "other.test"),
				topic5(2, "m.receipt", `{"r":2}`, dest), eventlog.Message{Value: []byte(`{"id":0}`)})
			if err := db.QueuePDUs(ctx, []storage.QueuedPDU{{Destination: dest, RoomID: "!r:origin.test", EventID: "$p1",
				JSON: json.RawMessage(`{"event_id":"$p1"}`)}}); err != nil {
				t.Fatal(err)
			}
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			want := [][]string{{"$p1", `m.receipt:{"r":2}`, `m.direct_to_device:{"d":3}`, `m.presence:{"p":4}`}}
			waitFor(t, "the first transaction", 5*time.Second, func() bool { return len(tx.delivered(dest)) == 1 })
			if got := tx.delivered(dest); !reflect.DeepEqual(got, want) {
				t.Fatalf("delivered %v, want %v", got, want)
			}

			// The destination fails: a receipt waits through it; typing queued meanwhile
			// that has gone stale is dropped; the retries keep the transaction ID.
			tx.setFailing(true)
			handle(topic5(5, "m.receipt", `{"r":5}`, dest))
			waitFor(t, "two failed attempts", 5*time.Second, func() bool {
				n := 0
				for _, s := range tx.snapshot() {
					if !s.ok {
						n++
					}
				}
				return n >= 2
			})
			at(-2 * time.Minute)
			handle(topic5(6, "m.typing", `{"t":6}`, dest))
			at(0)
			handle(topic5(7, "m.receipt", `{"r":7}`, dest))
			tx.setFailing(false)
			want = append(want, []string{`m.receipt:{"r":5}`}, []string{`m.receipt:{"r":7}`})
			waitFor(t, "the queue to drain", 5*time.Second, func() bool { return len(tx.delivered(dest)) == 3 })
			if got := tx.delivered(dest); !reflect.DeepEqual(got, want) {
				t.Fatalf("delivered %v, want %v", got, want)
			}
			ids := map[string]bool{}
			for _, s := range tx.snapshot() {
				if reflect.DeepEqual(s.items, []string{`m.receipt:{"r":5}`}) {
					ids[s.id] = true
				}
			}
			if len(ids) != 1 {
				t.Fatalf("the retried transaction had IDs %v", ids)
			}
			for _, s := range tx.snapshot() {
				if s.dest == testOrigin {
					t.Fatal("sent to this server")
				}
			}
			waitFor(t, "other.test's presence", 5*time.Second, func() bool {
				for _, s := range tx.snapshot() {
					if s.dest == "other.test" && s.ok && reflect.DeepEqual(s.items, []string{`m.presence:{"p":4}`}) {
						return true
					}
				}
				return false
			})
			// Delivered rows are deleted off the sending path (delivered.go): wait for it.
			waitFor(t, "the delivered EDUs deleted", 5*time.Second, func() bool {
				left, err := db.PeekEDUs(ctx, dest, 100)
				return err == nil && len(left) == 0
			})
		})
	}
}
