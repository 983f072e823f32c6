package userapi

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/userapi/api"
)

// recordingProducer keeps what the outbox relay published.
type recordingProducer struct {
	mu   sync.Mutex
	msgs []eventlog.Message
}

func (p *recordingProducer) Publish(_ context.Context, msgs ...eventlog.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func (p *recordingProducer) Close() error { return nil }

func (p *recordingProducer) published() []eventlog.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]eventlog.Message(nil), p.msgs...)
}

// TestAccountDataThroughRealOutbox runs topic 1 (account data → syncapi) through the real
// transactional outbox: accepted writes are relayed in position order, rejected ones never,
// and writes committed before a "crash" (no relay ran) are relayed by the next process.
func TestAccountDataThroughRealOutbox(t *testing.T) {
	const topic = "axon." + eventlog.TopicAccountData
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()

			// First process: writes, then dies before its relay ran.
			first := &recordingProducer{}
			ob1, err := outbox.NewOutbox(db, "userapi", first)
			if err != nil {
				t.Fatal(err)
			}
			u, err := NewInternalAPI(db, "example.org", ob1, topic, WithBcryptCost(4))
			if err != nil {
				t.Fatal(err)
			}
			alice, err := u.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			writes := []struct {
				data     api.AccountData
				wantCode string
			}{
				{api.AccountData{UserID: alice.UserID, Type: "m.direct", Content: json.RawMessage(`{"a":1}`)}, ""},
				{api.AccountData{UserID: alice.UserID, Type: "m.direct", Content: json.RawMessage(`[]`)}, "M_BAD_JSON"},
				{api.AccountData{UserID: "@nobody:example.org", Type: "m.direct", Content: json.RawMessage(`{}`)}, "M_NOT_FOUND"},
				{api.AccountData{UserID: alice.UserID, RoomID: "!r:example.org", Type: "m.tag", Content: json.RawMessage(`{"tags":{}}`)}, ""},
			}
			for i, w := range writes {
				d := w.data
				err := u.SetAccountData(ctx, &d)
				got := ""
				if err != nil {
					got = httputil.AsMatrixError(err).ErrCode
				}
				if got != w.wantCode {
					t.Fatalf("write %d: errcode %q, want %q (%v)", i, got, w.wantCode, err)
				}
			}
			if n := len(first.published()); n != 0 {
				t.Fatalf("%d messages published without a relay", n)
			}

			// Second process: its relay publishes what the first one committed.
			second := &recordingProducer{}
			ob2, err := outbox.NewOutbox(db, "userapi", second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ob2.Relay(ctx); err != nil {
				t.Fatal(err)
			}
			msgs := second.published()
			want := []api.OutputAccountData{
				{StreamPos: 1, UserID: alice.UserID, Type: "m.direct", Content: json.RawMessage(`{"a":1}`)},
				{StreamPos: 2, UserID: alice.UserID, RoomID: "!r:example.org", Type: "m.tag", Content: json.RawMessage(`{"tags":{}}`)},
			}
			if len(msgs) != len(want) {
				t.Fatalf("relayed %d messages, want %d", len(msgs), len(want))
			}
			for i, m := range msgs {
				var got api.OutputAccountData
				if err := json.Unmarshal(m.Value, &got); err != nil {
					t.Fatal(err)
				}
				w := want[i]
				if m.Topic != topic || m.Key != alice.UserID || got.StreamPos != w.StreamPos || got.RoomID != w.RoomID ||
					got.Type != w.Type || string(got.Content) != string(w.Content) {
					t.Fatalf("message %d = %s/%s %+v, want %+v", i, m.Topic, m.Key, got, w)
				}
			}
			// Relayed rows are gone: a further relay publishes nothing.
			if n, err := ob2.Relay(ctx); err != nil || n != 0 {
				t.Fatalf("second relay = %d, %v; want 0", n, err)
			}
		})
	}
}
