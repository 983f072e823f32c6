package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

func TestFilters(t *testing.T) {
	alice, bob := "@alice:"+testServer, "@bob:"+testServer
	tests := []struct {
		name, userID, filter string
		wantID, wantCode     string
	}{
		{"first", alice, `{"room":{"timeline":{"limit":10}}}`, "0", ""},
		{"second", alice, `{"presence":{"not_types":["*"]}}`, "1", ""},
		{"same as first, other key order and spacing", alice, ` { "room" : { "timeline" : {"limit":10} } } `, "0", ""},
		{"other user starts at 0", bob, `{"presence":{"not_types":["*"]}}`, "0", ""},
		{"empty object", alice, `{}`, "2", ""},
		{"html characters kept", alice, `{"event_fields":["content.<b>&"]}`, "3", ""},
		{"array", alice, `[]`, "", "M_BAD_JSON"},
		{"string", alice, `"x"`, "", "M_BAD_JSON"},
		{"not JSON", alice, `{room`, "", "M_BAD_JSON"},
		{"unknown user", "@nobody:" + testServer, `{}`, "", "M_NOT_FOUND"},
	}
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		e.mustAccount(t, "alice", "")
		e.mustAccount(t, "bob", "")
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				id, err := e.api.PutFilter(ctx, tc.userID, json.RawMessage(tc.filter))
				wantErrCode(t, err, tc.wantCode)
				if tc.wantCode != "" {
					return
				}
				if id != tc.wantID {
					t.Fatalf("filter ID = %q, want %q", id, tc.wantID)
				}
				got, err := e.api.GetFilter(ctx, tc.userID, id)
				if err != nil {
					t.Fatal(err)
				}
				if !jsonEqual(t, got, []byte(tc.filter)) {
					t.Fatalf("GetFilter = %s, want %s", got, tc.filter)
				}
			})
		}
		if got, _ := e.api.GetFilter(ctx, alice, "3"); string(got) != `{"event_fields":["content.<b>&"]}` {
			t.Fatalf("stored filter = %s", got)
		}
		for _, id := range []string{"4", "-1", "x", "", "01x"} {
			_, err := e.api.GetFilter(ctx, alice, id)
			wantErrCode(t, err, "M_NOT_FOUND")
		}
		_, err := e.api.GetFilter(ctx, bob, "1") // alice's 1 is not bob's
		wantErrCode(t, err, "M_NOT_FOUND")
	})
}

func TestPutFilterConcurrent(t *testing.T) {
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		alice := e.mustAccount(t, "alice", "").UserID
		const n = 20
		ids := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids[i], errs[i] = e.api.PutFilter(ctx, alice, json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)))
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for i := range n {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if seen[ids[i]] {
				t.Fatalf("filter ID %s handed out twice", ids[i])
			}
			seen[ids[i]] = true
		}
		for i := range n {
			if !seen[fmt.Sprint(i)] {
				t.Fatalf("IDs %v are not 0..%d", ids, n-1)
			}
		}
	})
}
