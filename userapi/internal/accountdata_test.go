package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/userapi/api"
)

func TestSetAccountData(t *testing.T) {
	tests := []struct {
		name     string
		data     api.AccountData
		wantCode string
	}{
		{"global", api.AccountData{UserID: "@alice:" + testServer, Type: "m.direct", Content: json.RawMessage(`{"@bob:x": ["!r:x"]}`)}, ""},
		{"room", api.AccountData{UserID: "@alice:" + testServer, RoomID: "!r:x", Type: "m.tag", Content: json.RawMessage(`{"tags":{}}`)}, ""},
		{"replace global", api.AccountData{UserID: "@alice:" + testServer, Type: "m.direct", Content: json.RawMessage(`{}`)}, ""},
		{"array content", api.AccountData{UserID: "@alice:" + testServer, Type: "x", Content: json.RawMessage(`[1]`)}, "M_BAD_JSON"},
		{"null content", api.AccountData{UserID: "@alice:" + testServer, Type: "x", Content: json.RawMessage(`null`)}, "M_BAD_JSON"},
		{"broken content", api.AccountData{UserID: "@alice:" + testServer, Type: "x", Content: json.RawMessage(`{"a":`)}, "M_BAD_JSON"},
		{"no type", api.AccountData{UserID: "@alice:" + testServer, Content: json.RawMessage(`{}`)}, "M_MISSING_PARAM"},
		{"unknown user", api.AccountData{UserID: "@nobody:" + testServer, Type: "x", Content: json.RawMessage(`{}`)}, "M_NOT_FOUND"},
		{"remote user", api.AccountData{UserID: "@alice:other.org", Type: "x", Content: json.RawMessage(`{}`)}, "M_NOT_FOUND"},
	}
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		e.mustAccount(t, "alice", "")
		var wantMsgs []api.OutputAccountData
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				d := tc.data
				err := e.api.SetAccountData(ctx, &d)
				wantErrCode(t, err, tc.wantCode)
				if tc.wantCode != "" {
					return
				}
				wantMsgs = append(wantMsgs, api.OutputAccountData{StreamPos: int64(len(wantMsgs) + 1),
					UserID: tc.data.UserID, RoomID: tc.data.RoomID, Type: tc.data.Type, Content: tc.data.Content})
				got, err := e.api.GetAccountData(ctx, tc.data.UserID, tc.data.RoomID, tc.data.Type)
				if err != nil {
					t.Fatal(err)
				}
				if !jsonEqual(t, got, tc.data.Content) {
					t.Fatalf("GetAccountData = %s, want %s", got, tc.data.Content)
				}
			})
		}
		// Every accepted write, and only those, was staged on topic 1 with dense positions.
		msgs := e.outbox.staged(t)
		if len(msgs) != len(wantMsgs) {
			t.Fatalf("staged %d messages, want %d", len(msgs), len(wantMsgs))
		}
		for i, m := range msgs {
			var got api.OutputAccountData
			if err := json.Unmarshal(m.Value, &got); err != nil {
				t.Fatal(err)
			}
			w := wantMsgs[i]
			if m.Topic != testTopic || m.Key != w.UserID || got.StreamPos != w.StreamPos || got.UserID != w.UserID ||
				got.RoomID != w.RoomID || got.Type != w.Type || !jsonEqual(t, got.Content, w.Content) {
				t.Fatalf("message %d = %s %s %+v, want %+v", i, m.Topic, m.Key, got, w)
			}
		}
		if k := e.outbox.kickCount(); k != len(wantMsgs) {
			t.Fatalf("outbox kicked %d times, want %d", k, len(wantMsgs))
		}

		list, err := e.api.ListAccountData(ctx, "@alice:"+testServer)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].RoomID != "" || list[0].Type != "m.direct" || string(list[0].Content) != "{}" ||
			list[1].RoomID != "!r:x" || list[1].Type != "m.tag" {
			t.Fatalf("ListAccountData = %+v", list)
		}
		_, err = e.api.GetAccountData(ctx, "@alice:"+testServer, "", "m.nothing")
		wantErrCode(t, err, "M_NOT_FOUND")
		_, err = e.api.GetAccountData(ctx, "@alice:"+testServer, "!other:x", "m.tag")
		wantErrCode(t, err, "M_NOT_FOUND")
	})
}

// TestSetAccountDataFailedStage proves the write and its topic 1 message share one fate: a
// stage that fails rolls back the item, the message and the stream position.
func TestSetAccountDataFailedStage(t *testing.T) {
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		alice := e.mustAccount(t, "alice", "")
		set := func(v string) error {
			return e.api.SetAccountData(ctx, &api.AccountData{UserID: alice.UserID, Type: "t", Content: json.RawMessage(`{"v":"` + v + `"}`)})
		}
		if err := set("1"); err != nil {
			t.Fatal(err)
		}
		e.outbox.setFail(errors.New("outbox down"))
		if err := set("2"); err == nil {
			t.Fatal("SetAccountData succeeded although staging failed")
		}
		e.outbox.setFail(nil)
		if got, _ := e.api.GetAccountData(ctx, alice.UserID, "", "t"); string(got) != `{"v":"1"}` {
			t.Fatalf("failed write changed the item to %s", got)
		}
		if n := len(e.outbox.staged(t)); n != 1 {
			t.Fatalf("%d messages staged, want 1: the failed transaction staged one", n)
		}
		if err := set("3"); err != nil {
			t.Fatal(err)
		}
		msgs := e.outbox.staged(t)
		var last api.OutputAccountData
		if err := json.Unmarshal(msgs[len(msgs)-1].Value, &last); err != nil {
			t.Fatal(err)
		}
		if last.StreamPos != 2 {
			t.Fatalf("position after a failed write = %d, want 2 (dense)", last.StreamPos)
		}
		if e.outbox.kickCount() != 2 {
			t.Fatalf("kicks = %d, want 2 (none for the failed write)", e.outbox.kickCount())
		}
	})
}

// TestSetAccountDataConcurrent checks that concurrent writers get dense, distinct positions
// and that the outbox order follows them.
func TestSetAccountDataConcurrent(t *testing.T) {
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		const writers, each = 4, 10
		var users []string
		for i := range writers {
			users = append(users, e.mustAccount(t, fmt.Sprintf("u%d", i), "").UserID)
		}
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for _, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range each {
					errs <- e.api.SetAccountData(ctx, &api.AccountData{UserID: u, Type: fmt.Sprintf("t%d", j), Content: json.RawMessage(`{}`)})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		msgs := e.outbox.staged(t)
		if len(msgs) != writers*each {
			t.Fatalf("%d messages, want %d", len(msgs), writers*each)
		}
		for i, m := range msgs {
			var o api.OutputAccountData
			if err := json.Unmarshal(m.Value, &o); err != nil {
				t.Fatal(err)
			}
			if o.StreamPos != int64(i+1) {
				t.Fatalf("message %d has position %d: positions are not dense and in commit order", i, o.StreamPos)
			}
		}
	})
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("bad JSON %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("bad JSON %s: %v", b, err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
