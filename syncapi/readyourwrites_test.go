package syncapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/axon-matrix/axon/internal/testenv"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

// rywDelay is the topic 2 delay per record in the read-your-writes tests: the syncapi then
// lags the roomserver by at least this much after every write, far longer than the read
// that follows the write's answer takes to arrive.
const rywDelay = 20 * time.Millisecond

// rywRounds is how often each sequence runs, rywParallel how many run at once.
const (
	rywRounds   = 200
	rywParallel = 20
)

// rywSequences are the writes-then-reads a client does, each returning "" when the read
// reflected the write and a description of what it saw otherwise. Each round works in a
// room of its own.
var rywSequences = []struct {
	name string
	run  func(s *realStack, toks map[string]string, round int) string
}{
	{"create room then /messages", func(s *realStack, toks map[string]string, round int) string {
		cr, err := s.rsAPI.CreateRoom(s.ctx, &rsapi.CreateRoomRequest{UserID: "@alice:test", Preset: "private_chat"})
		if err != nil {
			return "createRoom: " + err.Error()
		}
		code, body := s.do(toks["alice"], "/_matrix/client/v3/rooms/"+url.PathEscape(cr.RoomID)+"/messages?dir=b&limit=20")
		if code != http.StatusOK {
			return fmt.Sprintf("/messages: %d %v", code, body)
		}
		for _, e := range body["chunk"].([]any) {
			if e.(map[string]any)["type"] == "m.room.create" {
				return ""
			}
		}
		return fmt.Sprintf("/messages without the create event: %v", body["chunk"])
	}},
	{"invite, join, then the inviter's /joined_members", func(s *realStack, toks map[string]string, round int) string {
		cr, err := s.rsAPI.CreateRoom(s.ctx, &rsapi.CreateRoomRequest{UserID: "@alice:test", Preset: "private_chat"})
		if err != nil {
			return "createRoom: " + err.Error()
		}
		if _, err := s.rsAPI.PerformMembership(s.ctx, &rsapi.MembershipRequest{Action: "invite", RoomID: cr.RoomID, Sender: "@alice:test", Target: "@bob:test"}); err != nil {
			return "invite: " + err.Error()
		}
		if _, err := s.rsAPI.PerformMembership(s.ctx, &rsapi.MembershipRequest{Action: "join", RoomID: cr.RoomID, Sender: "@bob:test"}); err != nil {
			return "join: " + err.Error()
		}
		code, body := s.do(toks["alice"], "/_matrix/client/v3/rooms/"+url.PathEscape(cr.RoomID)+"/joined_members")
		if code != http.StatusOK {
			return fmt.Sprintf("/joined_members: %d %v", code, body)
		}
		if _, ok := body["joined"].(map[string]any)["@bob:test"]; !ok {
			return fmt.Sprintf("/joined_members without the joiner: %v", body["joined"])
		}
		return ""
	}},
	{"redact then /event", func(s *realStack, toks map[string]string, round int) string {
		cr, err := s.rsAPI.CreateRoom(s.ctx, &rsapi.CreateRoomRequest{UserID: "@alice:test", Preset: "private_chat"})
		if err != nil {
			return "createRoom: " + err.Error()
		}
		sent, err := s.rsAPI.SendEvent(s.ctx, &rsapi.SendEventRequest{RoomID: cr.RoomID, Sender: "@alice:test", Type: "m.room.message",
			Content: json.RawMessage(`{"msgtype":"m.text","body":"oops"}`)})
		if err != nil {
			return "send: " + err.Error()
		}
		if _, err := s.rsAPI.SendEvent(s.ctx, &rsapi.SendEventRequest{RoomID: cr.RoomID, Sender: "@alice:test", Type: "m.room.redaction",
			Redacts: sent.EventID, Content: json.RawMessage(`{}`)}); err != nil {
			return "redact: " + err.Error()
		}
		code, body := s.do(toks["alice"], "/_matrix/client/v3/rooms/"+url.PathEscape(cr.RoomID)+"/event/"+url.PathEscape(sent.EventID))
		if code != http.StatusOK {
			return fmt.Sprintf("/event: %d %v", code, body)
		}
		if u, _ := body["unsigned"].(map[string]any); u == nil || u["redacted_because"] == nil || len(body["content"].(map[string]any)) != 0 {
			return fmt.Sprintf("/event not redacted: %v", body)
		}
		return ""
	}},
	{"send and set account data, then /sync", func(s *realStack, toks map[string]string, round int) string {
		lp := fmt.Sprintf("syncer%d", round)
		sent, err := s.rsAPI.SendEvent(s.ctx, &rsapi.SendEventRequest{RoomID: toks["room"], Sender: "@" + lp + ":test", Type: "m.room.message",
			Content: json.RawMessage(`{"msgtype":"m.text","body":"mine"}`)})
		if err != nil {
			return "send: " + err.Error()
		}
		if err := s.userAPI.SetAccountData(s.ctx, &uapi.AccountData{UserID: "@" + lp + ":test", Type: "a.mark", Content: json.RawMessage(`{}`)}); err != nil {
			return "account data: " + err.Error()
		}
		// Every round writes to the one shared room: a timeline limit above all of them.
		filter := url.QueryEscape(fmt.Sprintf(`{"room":{"timeline":{"limit":%d}}}`, 2*rywRounds))
		code, body := s.do(toks[lp], "/_matrix/client/v3/sync?filter="+filter+"&since="+toks[lp+"/since"])
		if code != http.StatusOK {
			return fmt.Sprintf("/sync: %d %v", code, body)
		}
		gotMsg, gotAD := false, false
		if jr, ok := body["rooms"].(map[string]any)["join"].(map[string]any)[toks["room"]].(map[string]any); ok {
			for _, e := range jr["timeline"].(map[string]any)["events"].([]any) {
				gotMsg = gotMsg || e.(map[string]any)["event_id"] == sent.EventID
			}
		}
		for _, e := range body["account_data"].(map[string]any)["events"].([]any) {
			gotAD = gotAD || e.(map[string]any)["type"] == "a.mark"
		}
		if !gotMsg || !gotAD {
			return fmt.Sprintf("/sync: own message %v, own account data %v", gotMsg, gotAD)
		}
		return ""
	}},
}

// TestReadYourWrites makes the syncapi lag for certain (RoomEventDelay) and runs each
// sequence rywRounds times, on SQLite and Postgres, with the roomserver and userapi
// reached directly and over inthttp: every read right after its own write reflects it.
// A control run with the catch-up limit at zero (the guarantee switched off) must see
// stale reads, which shows that the delay makes the lag real.
func TestReadYourWrites(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			for _, impl := range impls {
				t.Run(impl, func(t *testing.T) {
					st := newRealStack(t, impl, dsn(t), rywDelay)
					toks := rywUsers(t, st)
					for _, seq := range rywSequences {
						t.Run(seq.name, func(t *testing.T) {
							if stale := rywRun(st, toks, seq.run, rywRounds); len(stale) > 0 {
								t.Fatalf("%d of %d reads did not reflect their write; first: %s", len(stale), rywRounds, stale[0])
							}
						})
					}
				})
			}
		})
	}
}

// TestReadYourWritesControl is the test's own check: with the guarantee off (a catch-up
// limit of zero) the same delay makes reads stale, so TestReadYourWrites can fail.
func TestReadYourWritesControl(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			st := newRealStack(t, implDirect, dsn(t), rywDelay)
			toks := rywUsers(t, st)
			st.sync.Syncer.CatchUpLimit = 0
			for _, seq := range rywSequences {
				before := rywGiveUps(t)
				stale := rywRun(st, toks, seq.run, 10)
				if len(stale) == 0 {
					t.Errorf("%s: no stale read without the guarantee: the delay does not make the syncapi lag", seq.name)
				}
				// Each stale read gave up (counted); a read may also give up and still
				// see its write when the write arrived meanwhile.
				if got := rywGiveUps(t) - before; got < float64(len(stale)) {
					t.Errorf("%s: %d stale reads but %v give-ups counted", seq.name, len(stale), got)
				}
			}
		})
	}
}

// rywGiveUps is the sum of axon_syncapi_read_your_writes_give_ups_total over its labels.
func rywGiveUps(t *testing.T) float64 {
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "axon_syncapi_read_your_writes_give_ups_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// rywUsers logs in alice, bob and the /sync sequence's syncers (each joined to one shared
// room, with a since token taken once everything is visible).
func rywUsers(t *testing.T, st *realStack) map[string]string {
	toks := map[string]string{"alice": st.login("alice"), "bob": st.login("bob")}
	cr, err := st.rsAPI.CreateRoom(st.ctx, &rsapi.CreateRoomRequest{UserID: "@alice:test", Preset: "public_chat"})
	if err != nil {
		t.Fatal(err)
	}
	toks["room"] = cr.RoomID
	for i := range rywRounds {
		lp := fmt.Sprintf("syncer%d", i)
		toks[lp] = st.login(lp)
		if _, err := st.rsAPI.PerformMembership(st.ctx, &rsapi.MembershipRequest{Action: "join", RoomID: cr.RoomID, Sender: "@" + lp + ":test"}); err != nil {
			t.Fatal(err)
		}
	}
	// Wait (it is the setup) until the syncapi has every join, then take each syncer's
	// since token.
	last := fmt.Sprintf("syncer%d", rywRounds-1)
	deadline := time.Now().Add(time.Minute)
	for {
		body := st.get(toks[last], "/_matrix/client/v3/sync")
		if _, ok := body["rooms"].(map[string]any)["join"].(map[string]any)[cr.RoomID]; ok {
			for i := range rywRounds {
				lp := fmt.Sprintf("syncer%d", i)
				toks[lp+"/since"] = body["next_batch"].(string)
			}
			return toks
		}
		if time.Now().After(deadline) {
			t.Fatal("the syncapi never caught up with the setup")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rywRun runs seq for rounds rounds, rywParallel at a time, and returns what the stale
// reads saw.
func rywRun(st *realStack, toks map[string]string, seq func(*realStack, map[string]string, int) string, rounds int) []string {
	var (
		mu    sync.Mutex
		stale []string
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	for range rywParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= rounds {
					return
				}
				if msg := seq(st, toks, i); msg != "" {
					mu.Lock()
					stale = append(stale, msg)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return stale
}
