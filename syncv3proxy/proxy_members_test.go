package syncv3proxy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memberEvent is a room_members event with what the walk checks.
type memberEvent struct {
	StateKey string `json:"state_key"`
	Content  struct {
		Membership  string `json:"membership"`
		DisplayName string `json:"displayname"`
	} `json:"content"`
}

// membersAnswer is the room_members stream of an answer.
type membersAnswer struct {
	RoomMembers *struct {
		P *struct {
			Limit int    `json:"limit"`
			Sort  string `json:"sort"`
			Next  string `json:"next"`
		} `json:"p"`
		Events []memberEvent `json:"events"`
	} `json:"room_members"`
	Next string `json:"next"`
}

func (p *proxy) members(token, query, body string) membersAnswer {
	p.t.Helper()
	code, b := raw(p.t, http.MethodPost, p.base+"/_matrix/client/v3/sync?"+query, token, body)
	var r membersAnswer
	if err := json.Unmarshal(b, &r); err != nil || code != 200 {
		p.t.Fatalf("sync v3 %s: %d %s", body, code, b)
	}
	return r
}

// parallel runs f(i) for i in [0, n) on a few workers.
func parallel(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// memberSortKey is by_name's key: the display name folded, else the user ID.
func memberSortKey(e memberEvent) string {
	if e.Content.DisplayName != "" {
		return strings.ToLower(e.Content.DisplayName)
	}
	return strings.ToLower(e.StateKey)
}

// testMembersWalk: many members joined upstream (1,000; 200 with Synapse, whose
// shared-secret registration is slow), paged through with a small limit by name while
// users join and leave between pages: the walk is the snapshot's members, each once, in
// by_name order; then the deltas without p show every join and leave of the walk.
func testMembersWalk(t *testing.T, p *proxy, pfx string, n int) {
	_, aliceTok := p.register(pfx + "walk_a")
	room := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", aliceTok, map[string]any{"preset": "public_chat"}).Must(t, 200).Str("room_id")
	// alice's poller runs before the joins, so they reach the proxy as incremental (limited)
	// answers of the upstream.
	p.v3(aliceTok, "", `{}`)
	const pageLimit = 50
	pages := (n + 1 + pageLimit - 1) / pageLimit
	ids, tokens := make([]string, n), make([]string, n)
	churn := make([]string, pages)
	churnIDs := make([]string, pages)
	parallel(n+pages, 8, func(i int) {
		if i < n {
			ids[i], tokens[i] = p.register(fmt.Sprintf("%swalk_m%04d", pfx, (i*7919)%n))
			join(t, p, tokens[i], room)
			return
		}
		// Joiners during the walk; "0" sorts them before every member of the snapshot.
		churnIDs[i-n], churn[i-n] = p.register(fmt.Sprintf("%s0walk_j%02d", pfx, i-n))
	})

	// walk pages the members at since's snapshot by name; between pages, after(page) runs.
	walk := func(since string, after func(page int)) []memberEvent {
		var out []memberEvent
		cursor := "1"
		for page := 0; cursor != ""; page++ {
			r := p.members(aliceTok, "since="+url.QueryEscape(since),
				fmt.Sprintf(`{"room_members":{"room_id":%q,"p":{"limit":%d,"sort":"by_name","since":%q}}}`, room, pageLimit, cursor))
			if r.RoomMembers == nil || r.RoomMembers.P == nil || r.RoomMembers.P.Limit != pageLimit || r.RoomMembers.P.Sort != "by_name" {
				t.Fatalf("page %d: %+v", page, r.RoomMembers)
			}
			out = append(out, r.RoomMembers.Events...)
			cursor = r.RoomMembers.P.Next
			if after != nil && cursor != "" {
				after(page)
			}
		}
		return out
	}
	// The joins reach alice's poller when the upstream shows them to her.
	var s0 membersAnswer
	for deadline := time.Now().Add(60 * time.Second); ; {
		s0 = p.members(aliceTok, "", `{}`)
		if got := walk(s0.Next, nil); len(got) == n+1 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the proxy knows %d members, want %d", len(got), n+1)
		}
		time.Sleep(200 * time.Millisecond)
	}
	snapshot := walk(s0.Next, nil)

	// The walk again on the same snapshot, with a join and a leave between pages.
	var joined, left []string
	got := walk(s0.Next, func(page int) {
		join(t, p, churn[page], room)
		p.do(http.MethodPost, "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/leave", tokens[page*7], map[string]any{}).Must(t, 200)
		joined, left = append(joined, churnIDs[page]), append(left, ids[page*7])
	})
	if !reflect.DeepEqual(got, snapshot) {
		t.Fatalf("the walk during joins and leaves differs from the snapshot's (%d vs %d members)", len(got), len(snapshot))
	}
	seen := map[string]bool{}
	for i, e := range got {
		if seen[e.StateKey] {
			t.Fatalf("%s twice", e.StateKey)
		}
		seen[e.StateKey] = true
		if e.Content.Membership != "join" {
			t.Fatalf("%s: membership %q in the snapshot", e.StateKey, e.Content.Membership)
		}
		if i > 0 {
			a, b := got[i-1], e
			if ka, kb := memberSortKey(a), memberSortKey(b); ka > kb || (ka == kb && a.StateKey > b.StateKey) {
				t.Fatalf("by_name out of order at %d: %s (%q) before %s (%q)", i, a.StateKey, ka, b.StateKey, kb)
			}
		}
	}
	if len(seen) != n+1 {
		t.Fatalf("walked %d members, want %d", len(seen), n+1)
	}
	// Deltas without p from the snapshot: every join and leave of the walk.
	want := map[string]string{}
	for _, u := range joined {
		want[u] = "join"
	}
	for _, u := range left {
		want[u] = "leave"
	}
	changed := map[string]string{}
	for since, deadline := s0.Next, time.Now().Add(30*time.Second); len(changed) < len(want) && time.Now().Before(deadline); {
		r := p.members(aliceTok, "timeout=5000&since="+url.QueryEscape(since), `{}`)
		if r.RoomMembers != nil {
			if r.RoomMembers.P != nil {
				t.Fatalf("a delta with p: %+v", r.RoomMembers.P)
			}
			for _, e := range r.RoomMembers.Events {
				changed[e.StateKey] = e.Content.Membership
			}
		}
		since = r.Next
	}
	if !reflect.DeepEqual(changed, want) {
		var diff []string
		for u, m := range want {
			if changed[u] != m {
				diff = append(diff, fmt.Sprintf("%s: %q want %q", u, changed[u], m))
			}
		}
		for u, m := range changed {
			if _, ok := want[u]; !ok {
				diff = append(diff, fmt.Sprintf("%s: %q unexpected", u, m))
			}
		}
		slices.Sort(diff)
		t.Fatalf("deltas differ: %v", diff)
	}
}
