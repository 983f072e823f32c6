package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

func TestParseReadMix(t *testing.T) {
	I, C, S, M := kindSyncIncremental, kindSyncCatchup, kindSyncInitial, kindMessages
	cases := []struct {
		name    string
		in      string
		want    []readKind
		wantErr string
	}{
		{"one kind", "messages=1", []readKind{M}, ""},
		{"equal weights alternate", "sync_incremental=2,messages=2", []readKind{I, M, I, M}, ""},
		{"smooth: the heavy kind is spread out", "sync_incremental=3,sync_initial=1", []readKind{I, I, S, I}, ""},
		{"repeated kind adds up", "messages=1, messages=1 ,sync_catchup=1", []readKind{M, C, M}, ""},
		{"zero weight drops a kind", "sync_initial=0,sync_catchup=2", []readKind{C, C}, ""},
		{"unknown kind", "sync_lazy=1", nil, "unknown kind"},
		{"no weight", "messages", nil, "want kind=weight"},
		{"negative weight", "messages=-1", nil, "weight must be"},
		{"all zero", "messages=0", nil, "every weight is 0"},
		{"empty", "", nil, "every weight is 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseReadMix(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("parseReadMix(%q) error %v, want one containing %q", c.in, err, c.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("parseReadMix(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
		})
	}
}

// The default mix holds each kind as often as its weight says.
func TestDefaultReadMixCounts(t *testing.T) {
	got, err := parseReadMix(defaultReadMix)
	if err != nil {
		t.Fatal(err)
	}
	var n [numReadKinds]int
	for _, k := range got {
		n[k]++
	}
	want := [numReadKinds]int{kindSyncIncremental: 4, kindSyncCatchup: 2, kindSyncInitial: 1, kindMessages: 3}
	if n != want {
		t.Fatalf("default mix counts %v, want %v (schedule %v)", n, want, got)
	}
}

func TestParsePIDs(t *testing.T) {
	cases := []struct {
		in      string
		want    []namedPID
		wantErr bool
	}{
		{"", nil, false},
		{"sync-1=12,proxy=7", []namedPID{{"sync-1", 12}, {"proxy", 7}}, false},
		{" a=1 , ", []namedPID{{"a", 1}}, false},
		{"a", nil, true},
		{"=3", nil, true},
		{"a=x", nil, true},
		{"a=0", nil, true},
	}
	for _, c := range cases {
		got, err := parsePIDs(c.in)
		if (err != nil) != c.wantErr || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parsePIDs(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestBuildReadReport(t *testing.T) {
	var stats [numReadKinds]kindStats
	for _, d := range []int{1, 2, 3, 4} {
		stats[kindMessages].lat.add(time.Duration(d) * time.Millisecond)
	}
	stats[kindSyncInitial].lat.add(10 * time.Millisecond)
	stats[kindSyncInitial].errors.Add(2)
	stats[kindSyncCatchup].errors.Add(1) // errors only: still reported

	rep := buildReadReport(&stats, 2*time.Second)
	if rep.Requests != 5 || rep.Errors != 3 || rep.RequestsPerSec != 2.5 {
		t.Fatalf("totals: %d requests, %d errors, %v/s; want 5, 3, 2.5", rep.Requests, rep.Errors, rep.RequestsPerSec)
	}
	want := []readKindReport{
		{Kind: "sync_catchup", Errors: 1},
		{Kind: "sync_initial", Requests: 1, Errors: 2, RequestsPerSec: 0.5, P50ms: 10, P99ms: 10, Maxms: 10},
		{Kind: "messages", Requests: 4, RequestsPerSec: 2, P50ms: 2, P99ms: 4, Maxms: 4},
	}
	if !reflect.DeepEqual(rep.Kinds, want) {
		t.Fatalf("kinds\n got %+v\nwant %+v", rep.Kinds, want)
	}
}

func TestLoadReadState(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, _ := json.Marshal(readStateFile{Users: []readStateUser{{ID: "@a:x", Token: "t", Rooms: []int{0}}}, Rooms: []string{"!r:x"}, LastEvent: []string{"$e"}})
	cases := []struct {
		name             string
		path             string
		wantNil, wantErr bool
	}{
		{"no flag", "", true, false},
		{"missing file: set up", filepath.Join(dir, "absent.json"), true, false},
		{"good", write("good.json", string(good)), false, false},
		{"not JSON", write("bad.json", "{"), true, true},
		{"no rooms", write("empty.json", `{"users":[{"user_id":"@a:x","rooms":[0]}]}`), true, true},
		{"user in no room", write("lonely.json", `{"users":[{"user_id":"@a:x"}],"rooms":["!r"],"last_event":["$e"]}`), true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := loadReadState(c.path)
			if (err != nil) != c.wantErr || (st == nil) != c.wantNil {
				t.Fatalf("loadReadState = %v, %v; want nil %v, error %v", st, err, c.wantNil, c.wantErr)
			}
		})
	}
}

// reader.do builds each kind's request as read.go documents it: the /sync kinds with the
// read filter and timeout=0 (incremental from the latest next_batch, catch-up from the
// pre-seed position, initial without since), /messages backwards from the newest and then
// from each page's end, starting over when the history runs out. The server here only
// records requests; it stands for no homeserver behaviour.
func TestReaderRequests(t *testing.T) {
	var got []string
	pages := []string{"p1", "", "p2"} // end tokens of successive /messages answers
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("Authorization %q", r.Header.Get("Authorization"))
		}
		switch {
		case r.URL.Path == "/_matrix/client/v3/sync":
			if q.Get("filter") != readFilter || q.Get("timeout") != "0" {
				t.Errorf("sync query %v", q)
			}
			got = append(got, "sync since="+q.Get("since"))
			_, _ = w.Write([]byte(`{"next_batch":"nb` + strconv.Itoa(len(got)) + `"}`))
		case strings.HasPrefix(r.URL.Path, "/_matrix/client/v3/rooms/"):
			got = append(got, r.URL.EscapedPath()+" dir="+q.Get("dir")+" limit="+q.Get("limit")+" from="+q.Get("from"))
			end := pages[0]
			pages = pages[1:]
			if end == "" {
				_, _ = w.Write([]byte(`{"chunk":[]}`))
				return
			}
			_, _ = w.Write([]byte(`{"chunk":[{"event_id":"$x"}],"end":"` + end + `"}`))
		default:
			t.Errorf("unexpected %s", r.URL)
		}
	}))
	defer srv.Close()
	rd := &reader{c: &csapi.Client{BaseURL: srv.URL, HTTP: srv.Client(), AccessToken: "tok"},
		u:     readStateUser{Since: "pre", Rooms: []int{1}},
		rooms: []string{"!a:x", "!b:x"}, since: "pre", from: map[int]string{}}
	ctx := context.Background()
	for _, k := range []readKind{kindSyncIncremental, kindSyncIncremental, kindSyncCatchup, kindSyncInitial, kindMessages, kindMessages, kindMessages} {
		if err := rd.do(ctx, k, 0); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	want := []string{
		"sync since=pre",
		"sync since=nb1",
		"sync since=pre",
		"sync since=",
		"/_matrix/client/v3/rooms/%21b:x/messages dir=b limit=20 from=",
		"/_matrix/client/v3/rooms/%21b:x/messages dir=b limit=20 from=p1",
		"/_matrix/client/v3/rooms/%21b:x/messages dir=b limit=20 from=",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("requests\n got %q\nwant %q", got, want)
	}
}

func TestParseProcStat(t *testing.T) {
	cases := []struct {
		name        string
		in          string
		busy, total int64
	}{
		{"full line", "cpu  100 5 30 900 10 0 2 3 7 0\ncpu0 1 2 3 4\n", 140, 1050},
		{"four fields (old kernels)", "cpu 10 0 5 85\n", 15, 100},
		{"per-core line only", "cpu0 1 2 3 4\n", 0, 0},
		{"garbage", "cpu a b c d\n", 0, 0},
		{"empty", "", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, tot := parseProcStat(c.in)
			if b != c.busy || tot != c.total {
				t.Fatalf("parseProcStat = %d, %d; want %d, %d", b, tot, c.busy, c.total)
			}
		})
	}
}
