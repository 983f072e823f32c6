package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

// watchedRooms: -sync v3 follows each syncer's one room, and refuses a syncer in several.
func TestWatchedRooms(t *testing.T) {
	ids := []string{"!a", "!b"}
	cases := []struct {
		name    string
		mode    string
		syncers int
		members [][]int
		want    []string
		wantErr bool
	}{
		{"disjoint rooms", syncV3Room, 4, [][]int{{0, 1}, {2, 3}}, []string{"!a", "!a", "!b", "!b"}, false},
		{"non-syncing member in two rooms", syncV3Room, 2, [][]int{{0, 2}, {1, 2}}, []string{"!a", "!b"}, false},
		{"syncer in two rooms", syncV3Room, 3, [][]int{{0, 1}, {2, 0}}, nil, true},
		{"v3-list needs no room", syncV3List, 3, [][]int{{0, 1}, {2, 0}}, []string{"", "", ""}, false},
	}
	for _, tc := range cases {
		got, err := watchedRooms(tc.mode, tc.syncers, tc.members, ids)
		if (err != nil) != tc.wantErr || (!tc.wantErr && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%s: %v %v, want %v (error %v)", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

// v3Poller: the stream parameters go in the first request only, `next` is the following
// request's since, the room stream's and room_list's load IDs come back, a limited
// timeline counts as skipped, and M_UNKNOWN_SYNC_SESSION starts a new session.
func TestV3Poller(t *testing.T) {
	type seen struct {
		since, timeout, body string
	}
	var got []seen
	answers := []string{
		`{"next":"t1"}`,
		`{"room":{"timeline":[{"type":"m.room.message","content":{"axon_loadtest_id":"x1"}},{"type":"m.room.message","content":{}}],"limited":true},"next":"t2"}`,
		`{"room_list":{"rooms":[{"room_id":"!a","last_event":{"content":{"axon_loadtest_id":"x2"}}},{"room_id":"!b","membership":"leave"}]},"next":"t3"}`,
		`!{"errcode":"M_UNKNOWN_SYNC_SESSION","error":"Session unknown or expired"}`,
		`{"next":"t9"}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/_matrix/client/v3/sync" || r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("request %s %s %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		got = append(got, seen{r.URL.Query().Get("since"), r.URL.Query().Get("timeout"), string(b)})
		a := answers[len(got)-1]
		if a[0] == '!' {
			w.WriteHeader(http.StatusBadRequest)
			a = a[1:]
		}
		_, _ = io.WriteString(w, a)
	}))
	defer srv.Close()
	c := &csapi.Client{BaseURL: srv.URL, AccessToken: "tok"}
	p := newPoller(syncV3Room, c, "!r")
	ctx := context.Background()
	type result struct {
		ids     []string
		skipped int
		errcode string
	}
	want := []result{{nil, 0, ""}, {[]string{"x1"}, 1, ""}, {[]string{"x2"}, 0, ""}, {nil, 0, "M_UNKNOWN_SYNC_SESSION"}, {nil, 0, ""}}
	for i, w := range want {
		ids, skipped, err := p.poll(ctx, time.Duration(i)*time.Second)
		var e *csapi.Error
		code := ""
		if errors.As(err, &e) {
			code = e.ErrCode
		} else if err != nil {
			t.Fatal(err)
		}
		if r := (result{ids, skipped, code}); !reflect.DeepEqual(r, w) {
			t.Errorf("poll %d: %+v, want %+v", i, r, w)
		}
	}
	first := `{"room":{"room_id":"!r","timeline_limit":100}}`
	wantSeen := []seen{{"", "0", first}, {"t1", "1000", "{}"}, {"t2", "2000", "{}"}, {"t3", "3000", "{}"}, {"", "4000", first}}
	if !reflect.DeepEqual(got, wantSeen) {
		t.Errorf("requests %+v\nwant %+v", got, wantSeen)
	}
}
