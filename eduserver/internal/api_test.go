package internal

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/httputil"
)

// errcodeOf is the Matrix errcode of err ("" for nil, "?" for a non-Matrix error).
func errcodeOf(err error) string {
	if err == nil {
		return ""
	}
	var me *httputil.MatrixError
	if errors.As(err, &me) {
		return me.ErrCode
	}
	return "?"
}

const room = "!r:edu.test"

// TestTyping: starts, renewals, stops and timeouts each publish the room's whole set of
// typers with dense positions, keyed by room; a stop of a non-typer publishes nothing.
func TestTyping(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		steps := []struct {
			name    string
			req     *api.SetTypingRequest
			fire    int // fire the timer with this index instead (-1: none)
			errcode string
			typers  []string // the set after the step; nil = no record
			expires []int64
		}{
			{"alice starts", &api.SetTypingRequest{RoomID: room, UserID: "@alice:edu.test", Typing: true, TimeoutMS: 10_000}, -1, "",
				[]string{"@alice:edu.test"}, []int64{1_700_000_010_000}},
			{"bob starts, timeout capped", &api.SetTypingRequest{RoomID: room, UserID: "@bob:edu.test", Typing: true, TimeoutMS: 10_000_000}, -1, "",
				[]string{"@alice:edu.test", "@bob:edu.test"}, []int64{1_700_000_010_000, 1_700_000_120_000}},
			{"carol stops without typing", &api.SetTypingRequest{RoomID: room, UserID: "@carol:edu.test"}, -1, "", nil, nil},
			{"negative timeout", &api.SetTypingRequest{RoomID: room, UserID: "@carol:edu.test", Typing: true, TimeoutMS: -1}, -1, "M_INVALID_PARAM", nil, nil},
			{"alice stops", &api.SetTypingRequest{RoomID: room, UserID: "@alice:edu.test"}, -1, "",
				[]string{"@bob:edu.test"}, []int64{1_700_000_120_000}},
			{"alice's stopped timer fires: nothing", nil, 0, "", nil, nil},
			{"bob times out", nil, 1, "", []string{}, []int64{}},
			{"carol, default timeout", &api.SetTypingRequest{RoomID: room, UserID: "@carol:edu.test", Typing: true}, -1, "",
				[]string{"@carol:edu.test"}, []int64{1_700_000_030_000}},
		}
		seen := 0
		for _, s := range steps {
			if s.req != nil {
				if got := errcodeOf(f.e.SetTyping(f.ctx, s.req)); got != s.errcode {
					t.Fatalf("%s: errcode %q, want %q", s.name, got, s.errcode)
				}
			} else if !f.timers[s.fire].stopped {
				f.timers[s.fire].f()
			}
			recs, keys := f.records()
			if s.typers == nil {
				if len(recs) != seen {
					t.Fatalf("%s: %d new records, want none", s.name, len(recs)-seen)
				}
				continue
			}
			if len(recs) != seen+1 {
				t.Fatalf("%s: %d new records, want 1", s.name, len(recs)-seen)
			}
			r := recs[seen]
			seen++
			if r.Kind != api.OutputTypingKind || r.StreamPos != int64(seen) || keys[seen-1] != room || r.Typing.RoomID != room {
				t.Fatalf("%s: record %+v key %q", s.name, r, keys[seen-1])
			}
			var users []string
			var exp []int64
			for _, ty := range r.Typing.Typers {
				users, exp = append(users, ty.UserID), append(exp, ty.ExpiresTS)
			}
			if users == nil {
				users, exp = []string{}, []int64{}
			}
			if !reflect.DeepEqual(users, s.typers) || !reflect.DeepEqual(exp, s.expires) {
				t.Fatalf("%s: typers %v %v, want %v %v", s.name, users, exp, s.typers, s.expires)
			}
			if got := f.e.Typers(room); len(got) != len(s.typers) {
				t.Fatalf("%s: in memory %v", s.name, got)
			}
		}
	})
}

// TestReceipts: receipts are validated, stored (one per user, type and thread) and staged
// with dense positions keyed by room.
func TestReceipts(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		tests := []struct {
			name    string
			req     api.SetReceiptRequest
			errcode string
		}{
			{"read", api.SetReceiptRequest{RoomID: room, UserID: "@a:edu.test", Type: api.ReceiptRead, EventID: "$1"}, ""},
			{"read again, later event", api.SetReceiptRequest{RoomID: room, UserID: "@a:edu.test", Type: api.ReceiptRead, EventID: "$2"}, ""},
			{"private", api.SetReceiptRequest{RoomID: room, UserID: "@a:edu.test", Type: api.ReceiptReadPrivate, EventID: "$1"}, ""},
			{"threaded", api.SetReceiptRequest{RoomID: room, UserID: "@a:edu.test", Type: api.ReceiptRead, EventID: "$3", ThreadID: "$root"}, ""},
			{"unknown type", api.SetReceiptRequest{RoomID: room, UserID: "@a:edu.test", Type: "m.seen", EventID: "$1"}, "M_INVALID_PARAM"},
			{"no event", api.SetReceiptRequest{RoomID: room, UserID: "@a:edu.test", Type: api.ReceiptRead}, "M_MISSING_PARAM"},
		}
		for _, tt := range tests {
			if got := errcodeOf(f.e.SetReceipt(f.ctx, &tt.req)); got != tt.errcode {
				t.Fatalf("%s: errcode %q, want %q", tt.name, got, tt.errcode)
			}
		}
		recs, keys := f.records()
		if len(recs) != 4 {
			t.Fatalf("%d records, want 4", len(recs))
		}
		for i, r := range recs {
			if r.Kind != api.OutputReceiptKind || r.StreamPos != int64(i+1) || keys[i] != room || r.Receipt.TS != 1_700_000_000_000 {
				t.Fatalf("record %d: %+v", i, r)
			}
		}
		stored, err := f.db.RoomReceipts(f.ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, s := range stored {
			got[s.Type+"/"+s.ThreadID] = s.EventID
		}
		want := map[string]string{"m.read/": "$2", "m.read.private/": "$1", "m.read/$root": "$3"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stored %v, want %v", got, want)
		}
	})
}

// TestSendToDevice: one record per local device keyed by the target user, remote users
// skipped, a repeated transaction ID a no-op, bad input refused with nothing staged.
func TestSendToDevice(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		msg := json.RawMessage(`{"body":"hi"}`)
		big := json.RawMessage(`{"x":"` + string(make([]byte, api.MaxToDeviceMessageSize)) + `"}`)
		for i := range big[6 : len(big)-2] {
			big[6+i] = 'a'
		}
		send := func(txn string, msgs map[string]map[string]json.RawMessage) error {
			return f.e.SendToDevice(f.ctx, &api.SendToDeviceRequest{Sender: "@s:edu.test", SenderDevice: "SD", TxnID: txn,
				Type: "m.test", Messages: msgs})
		}
		tests := []struct {
			name    string
			txn     string
			msgs    map[string]map[string]json.RawMessage
			errcode string
			added   int
		}{
			{"two users", "t1", map[string]map[string]json.RawMessage{
				"@b:edu.test": {"D1": msg, "D2": msg}, "@a:edu.test": {"D": msg}, "@r:remote.test": {"X": msg}}, "", 3},
			{"same txn again", "t1", map[string]map[string]json.RawMessage{"@a:edu.test": {"D": msg}}, "", 0},
			{"too large", "t2", map[string]map[string]json.RawMessage{"@a:edu.test": {"D": big}}, "M_TOO_LARGE", 0},
			{"not an object", "t3", map[string]map[string]json.RawMessage{"@a:edu.test": {"D": json.RawMessage(`[1]`)}}, "M_BAD_JSON", 0},
			{"bad user", "t4", map[string]map[string]json.RawMessage{"nobody": {"D": msg}}, "M_INVALID_PARAM", 0},
			{"refused txn is not used up", "t2", map[string]map[string]json.RawMessage{"@a:edu.test": {"D": msg}}, "", 1},
		}
		total := 0
		for _, tt := range tests {
			if got := errcodeOf(send(tt.txn, tt.msgs)); got != tt.errcode {
				t.Fatalf("%s: errcode %q, want %q", tt.name, got, tt.errcode)
			}
			recs, _ := f.records()
			if len(recs)-total != tt.added {
				t.Fatalf("%s: %d records added, want %d", tt.name, len(recs)-total, tt.added)
			}
			total = len(recs)
		}
		recs, keys := f.records()
		want := []string{"@a:edu.test/D", "@b:edu.test/D1", "@b:edu.test/D2", "@a:edu.test/D"}
		for i, r := range recs {
			td := r.ToDevice
			if r.Kind != api.OutputToDeviceKind || r.StreamPos != int64(i+1) || keys[i] != td.Sender ||
				td.UserID+"/"+td.DeviceID != want[i] || td.Sender != "@s:edu.test" || td.Type != "m.test" || string(td.Content) != string(msg) {
				t.Fatalf("record %d: %+v key %q", i, r, keys[i])
			}
		}
		// Old transactions are forgotten after TxnRetention: the same ID sends again.
		f.now = f.now.Add(TxnRetention + time.Minute)
		if n, err := f.db.DeleteTxnsBefore(f.ctx, f.now.Add(-TxnRetention).UnixMilli()); err != nil || n != 2 {
			t.Fatalf("pruned %d, %v", n, err)
		}
	})
}
