package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

// eduSummary describes the EDU scenario (flag -edus).
const eduSummary = "two monoliths over TLS: typing, a read receipt and presence of a user on A seen in /sync on B (topic 5 → PUT /send → arrow 5 → topic 3), a to-device message from A to a device on B delivered once"

// eduScenario: alice@A and bob@B share a room; alice's typing, receipt, presence and a
// to-device message reach bob's /sync on B.
func (r *run) eduScenario() error {
	ctx := context.Background()
	r.begin("build axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	for _, label := range []string{"A", "B"} {
		r.begin("configure and start server " + label)
		s, err := r.start(bin, label)
		if err != nil {
			return err
		}
		r.servers = append(r.servers, s)
	}
	a, b := r.servers[0], r.servers[1]
	r.begin("register alice on A and bob on B")
	alice := &csapi.Client{BaseURL: a.clientURL}
	bob := &csapi.Client{BaseURL: b.clientURL}
	if _, err := alice.Register(ctx, "alice", "alice-password-1", "test"); err != nil {
		return fmt.Errorf("alice: %w", err)
	}
	if _, err := bob.Register(ctx, "bob", "bob-password-1", "test"); err != nil {
		return fmt.Errorf("bob: %w", err)
	}
	r.begin("alice creates a room on A; bob@B joins it")
	roomID, err := alice.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "public_chat", Name: "edus"})
	if err != nil {
		return err
	}
	if err := bob.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+url.QueryEscape(a.name),
		map[string]any{}, nil); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, roomID, func(v *roomView) bool { return v.members[bob.UserID] == "join" }); err != nil {
		return err
	}
	eventID, err := alice.Send(ctx, roomID, "e1", map[string]any{"msgtype": "m.text", "body": "read me"})
	if err != nil {
		return err
	}
	if err := r.waitSync(ctx, bob, roomID, func(v *roomView) bool { return v.bodies["read me"] }); err != nil {
		return err
	}
	rp := url.PathEscape(roomID)

	r.begin("alice types on A; bob sees it in /sync on B (m.typing)")
	if err := alice.Do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+rp+"/typing/"+url.PathEscape(alice.UserID),
		map[string]any{"typing": true, "timeout": 30000}, nil); err != nil {
		return err
	}
	if err := r.waitEDU(ctx, bob, func(s *eduView) bool { return s.typing[roomID][alice.UserID] }); err != nil {
		return err
	}

	r.begin("alice sends a read receipt on A; bob sees it in /sync on B (m.receipt)")
	if err := alice.Do(ctx, http.MethodPost, "/_matrix/client/v3/rooms/"+rp+"/receipt/m.read/"+url.PathEscape(eventID), map[string]any{}, nil); err != nil {
		return err
	}
	if err := r.waitEDU(ctx, bob, func(s *eduView) bool { return s.receipts[eventID][alice.UserID] }); err != nil {
		return err
	}

	r.begin("alice sets her presence on A; bob sees it in /sync on B (m.presence)")
	if err := alice.Do(ctx, http.MethodPut, "/_matrix/client/v3/presence/"+url.PathEscape(alice.UserID)+"/status",
		map[string]any{"presence": "unavailable", "status_msg": "federated"}, nil); err != nil {
		return err
	}
	if err := r.waitEDU(ctx, bob, func(s *eduView) bool { return s.presence[alice.UserID] == "unavailable/federated" }); err != nil {
		return err
	}

	r.begin("alice sends a to-device message to bob's device on B; it arrives exactly once (m.direct_to_device)")
	if err := alice.Do(ctx, http.MethodPut, "/_matrix/client/v3/sendToDevice/m.axon.test/t1",
		map[string]any{"messages": map[string]any{bob.UserID: map[string]any{bob.DeviceID: map[string]any{"n": "once"}}}}, nil); err != nil {
		return err
	}
	var seen int
	view, err := r.syncEDUsUntil(ctx, bob, "", func(s *eduView) bool { seen += s.toDevice["once"]; return seen > 0 })
	if err != nil {
		return err
	}
	// Two more syncs from there: the acknowledged message is not delivered again.
	for range 2 {
		v, err := r.syncEDUs(ctx, bob, view.next, 2*time.Second)
		if err != nil {
			return err
		}
		seen += v.toDevice["once"]
		view = v
	}
	if seen != 1 {
		return fmt.Errorf("the to-device message arrived %d times", seen)
	}
	r.step = "done"
	return nil
}

// eduView is what one /sync said about EDUs.
type eduView struct {
	next     string
	typing   map[string]map[string]bool // room → typing users
	receipts map[string]map[string]bool // event → users with m.read
	presence map[string]string          // user → presence[/status_msg]
	toDevice map[string]int             // content "n" → count
}

// syncEDUs makes one /sync as c.
func (r *run) syncEDUs(ctx context.Context, c *csapi.Client, since string, timeout time.Duration) (*eduView, error) {
	var res struct {
		NextBatch string `json:"next_batch"`
		Rooms     struct {
			Join map[string]struct {
				Ephemeral struct {
					Events []struct {
						Type    string         `json:"type"`
						Content map[string]any `json:"content"`
					} `json:"events"`
				} `json:"ephemeral"`
			} `json:"join"`
		} `json:"rooms"`
		Presence struct {
			Events []struct {
				Sender  string `json:"sender"`
				Content struct {
					Presence  string `json:"presence"`
					StatusMsg string `json:"status_msg"`
				} `json:"content"`
			} `json:"events"`
		} `json:"presence"`
		ToDevice struct {
			Events []struct {
				Type    string         `json:"type"`
				Content map[string]any `json:"content"`
			} `json:"events"`
		} `json:"to_device"`
	}
	if err := c.SyncInto(ctx, csapi.SyncRequest{Since: since, Timeout: timeout}, &res); err != nil {
		return nil, fmt.Errorf("/sync as %s: %w", c.UserID, err)
	}
	v := &eduView{next: res.NextBatch, typing: map[string]map[string]bool{}, receipts: map[string]map[string]bool{},
		presence: map[string]string{}, toDevice: map[string]int{}}
	for room, j := range res.Rooms.Join {
		for _, e := range j.Ephemeral.Events {
			switch e.Type {
			case "m.typing":
				v.typing[room] = map[string]bool{}
				users, _ := e.Content["user_ids"].([]any)
				for _, u := range users {
					if s, ok := u.(string); ok {
						v.typing[room][s] = true
					}
				}
			case "m.receipt":
				for ev, byType := range e.Content {
					read, _ := byType.(map[string]any)["m.read"].(map[string]any)
					for u := range read {
						if v.receipts[ev] == nil {
							v.receipts[ev] = map[string]bool{}
						}
						v.receipts[ev][u] = true
					}
				}
			}
		}
	}
	for _, p := range res.Presence.Events {
		v.presence[p.Sender] = p.Content.Presence + "/" + p.Content.StatusMsg
	}
	for _, e := range res.ToDevice.Events {
		if e.Type == "m.axon.test" {
			n, _ := e.Content["n"].(string)
			v.toDevice[n]++
		}
	}
	return v, nil
}

// syncEDUsUntil syncs as c from since until ok holds for one response (up to r.timeout).
func (r *run) syncEDUsUntil(ctx context.Context, c *csapi.Client, since string, ok func(*eduView) bool) (*eduView, error) {
	deadline := time.Now().Add(r.timeout)
	for {
		v, err := r.syncEDUs(ctx, c, since, time.Second)
		if err != nil {
			return nil, err
		}
		if ok(v) {
			return v, nil
		}
		since = v.next
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("not seen within %s in %s's /sync", r.timeout, c.UserID)
		}
	}
}

// waitEDU keeps an incremental view for c until ok holds on what was seen so far.
func (r *run) waitEDU(ctx context.Context, c *csapi.Client, ok func(*eduView) bool) error {
	all := &eduView{typing: map[string]map[string]bool{}, receipts: map[string]map[string]bool{}, presence: map[string]string{}, toDevice: map[string]int{}}
	_, err := r.syncEDUsUntil(ctx, c, "", func(v *eduView) bool {
		for room, users := range v.typing {
			all.typing[room] = users
		}
		for ev, users := range v.receipts {
			if all.receipts[ev] == nil {
				all.receipts[ev] = map[string]bool{}
			}
			for u := range users {
				all.receipts[ev][u] = true
			}
		}
		for u, p := range v.presence {
			all.presence[u] = p
		}
		return ok(all)
	})
	return err
}
