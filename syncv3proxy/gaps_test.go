package syncv3proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/syncv3"
	"github.com/axon-matrix/axon/internal/testenv"
)

func ids(evs []syncv3.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// TestGaps: a limited timeline records a gap below the answer's positions (not when its
// first event is stored already); a page that reaches it reads it from the upstream's
// /messages with the client's token: new events fill in below, the answer's state block
// events move to their place in the timeline (the memberships recorded at them too), the
// gap closes at the start of the room. Without a token nothing is read; an upstream
// failure serves the page up to the gap, and a page that starts at the gap gets the error.
func TestGaps(t *testing.T) {
	create := `{"event_id":"$c","type":"m.room.create","state_key":"","sender":"@a:t","content":{},"origin_server_ts":1}`
	var calls atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Query().Get("dir") != "b" {
			http.Error(w, `{"errcode":"M_FORBIDDEN","error":"no"}`, http.StatusForbidden)
			return
		}
		switch r.URL.Path + "?" + r.URL.Query().Get("from") {
		case "/_matrix/client/v3/rooms/!r:t/messages?p1":
			_, _ = w.Write([]byte(`{"chunk":[` + message("$m2", "two") + `,` + member("$ma", "@a:t", "join") + `,` + message("$m1", "one") + `,` + create +
				`],"start":"p1","end":"p2"}`))
		case "/_matrix/client/v3/rooms/!r:t/messages?p2":
			_, _ = w.Write([]byte(`{"chunk":[],"start":"p2"}`))
		default:
			http.Error(w, `{"errcode":"M_UNKNOWN","error":"down"}`, http.StatusInternalServerError)
		}
	}))
	defer upstream.Close()
	up, err := ParseUpstream(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			calls.Store(0)
			ctx := context.Background()
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			st, err := OpenStore(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			src := &Source{st: st, n: newNotifier(), pollers: &Pollers{upstream: up, client: upstream.Client(), st: st}}
			gaps := func() int {
				var n int
				if err := db.QueryRow(`SELECT COUNT(*) FROM syncv3proxy_gaps`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if _, err := st.Ingest(ctx, "@a:t", "ADEV", parse(t, `{"next_batch":"a1","rooms":{"join":{
				"!r:t":{"state":{"events":[`+create+`,`+member("$ma", "@a:t", "join")+`]},
					"timeline":{"events":[`+message("$m3", "three")+`,`+message("$m4", "four")+`],"limited":true,"prev_batch":"p1"}},
				"!f:t":{"state":{"events":[`+member("$fa", "@a:t", "join")+`]},
					"timeline":{"events":[`+message("$f2", "f2")+`],"limited":true,"prev_batch":"broken"}}}}}`)); err != nil {
				t.Fatal(err)
			}
			// b's poller sees the room from $m3 on: stored already, no new gap.
			if _, err := st.Ingest(ctx, "@b:t", "BDEV", parse(t, `{"next_batch":"b1","rooms":{"join":{"!r:t":{
				"timeline":{"events":[`+message("$m3", "three")+`,`+message("$m4", "four")+`,`+member("$mb", "@b:t", "join")+`],"limited":true,"prev_batch":"pb"}}}}}`)); err != nil {
				t.Fatal(err)
			}
			if n := gaps(); n != 2 {
				t.Fatalf("%d gaps, want 2", n)
			}
			at := src.Position().Room
			// No token (not a client's request): what is stored, nothing read.
			evs, _, more, err := src.Timeline(ctx, "@a:t", "!r:t", at, 0, 10)
			if err != nil || !reflect.DeepEqual(ids(evs), []string{"$m3", "$m4", "$mb"}) || more || calls.Load() != 0 {
				t.Fatalf("without a token: %v more %v %v (%d upstream calls)", ids(evs), more, err, calls.Load())
			}
			// A page above the gap reads nothing either.
			tctx := withToken(ctx, "tok")
			evs, next, more, err := src.Timeline(tctx, "@a:t", "!r:t", at, 0, 2)
			if err != nil || !reflect.DeepEqual(ids(evs), []string{"$m4", "$mb"}) || !more || calls.Load() != 0 {
				t.Fatalf("page above the gap: %v more %v %v (%d upstream calls)", ids(evs), more, err, calls.Load())
			}
			// The next page reaches it: two reads, the gap closes at the room's start.
			evs, _, more, err = src.Timeline(tctx, "@a:t", "!r:t", next, 0, 10)
			if err != nil || !reflect.DeepEqual(ids(evs), []string{"$c", "$m1", "$ma", "$m2", "$m3"}) || more || calls.Load() != 2 {
				t.Fatalf("page over the gap: %v more %v %v (%d upstream calls)", ids(evs), more, err, calls.Load())
			}
			if n := gaps(); n != 1 {
				t.Fatalf("%d gaps after the fill, want 1", n)
			}
			// a's membership moved with her member event, to its place after $m1; state still
			// reads.
			var joinPos int64
			if err := db.QueryRow(`SELECT pos FROM syncv3proxy_events WHERE event_id = '$ma'`).Scan(&joinPos); err != nil {
				t.Fatal(err)
			}
			rooms, err := src.Rooms(ctx, "@a:t", at)
			if err != nil || len(rooms) != 2 {
				t.Fatalf("rooms %+v %v", rooms, err)
			}
			for _, r := range rooms {
				if r.RoomID == "!r:t" && (r.Pos != joinPos || r.Membership != "join") {
					t.Fatalf("a's membership %+v, her join is at %d", r, joinPos)
				}
			}
			if ms, err := src.Members(ctx, "@a:t", "!r:t", at); err != nil || len(ms) != 2 {
				t.Fatalf("members %+v %v", ms, err)
			}
			// The whole walk again: stored now, no more reads.
			evs, _, more, err = src.Timeline(tctx, "@a:t", "!r:t", at, 0, 100)
			if err != nil || len(evs) != 7 || more || calls.Load() != 2 {
				t.Fatalf("second walk: %v more %v %v (%d upstream calls)", ids(evs), more, err, calls.Load())
			}
			// The upstream fails: the page is served up to the gap, the next one gets the error.
			evs, next, more, err = src.Timeline(tctx, "@a:t", "!f:t", at, 0, 10)
			if err != nil || !reflect.DeepEqual(ids(evs), []string{"$f2"}) || !more {
				t.Fatalf("failing upstream: %v more %v %v", ids(evs), more, err)
			}
			if _, _, _, err := src.Timeline(tctx, "@a:t", "!f:t", next, 0, 10); err == nil {
				t.Fatal("a page at a gap the upstream cannot fill: no error")
			}
		})
	}
}
