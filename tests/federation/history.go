package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

// historyScenario (issue 12, items 1, 3 and 5): bob@B resolves an alias of A over
// federation (arrow 7), joins by it, and pages back through history from before his
// server joined (/messages → arrow 2 → arrow 17 → A's /backfill); then alice's room gets
// an m.room.server_acl denying B's host: A sends B nothing more of the room and refuses
// what B sends in it.
func (r *run) historyScenario(ctx context.Context, a, b *server, alice, bob *csapi.Client) error {
	r.begin("alice creates #history on A and says five things before bob is there")
	var created struct {
		RoomID string `json:"room_id"`
	}
	if err := alice.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom",
		map[string]any{"preset": "public_chat", "room_alias_name": "history"}, &created); err != nil {
		return err
	}
	roomID := created.RoomID
	for i := 1; i <= 5; i++ {
		if _, err := alice.Send(ctx, roomID, fmt.Sprintf("old%d", i), map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("old %d", i)}); err != nil {
			return err
		}
	}

	alias := "#history:" + a.name
	r.begin("bob resolves " + alias + " on B (arrow 7: /query/directory on A)")
	var dir struct {
		RoomID  string   `json:"room_id"`
		Servers []string `json:"servers"`
	}
	if err := bob.Do(ctx, http.MethodGet, "/_matrix/client/v3/directory/room/"+url.PathEscape(alias), nil, &dir); err != nil {
		return err
	}
	if dir.RoomID != roomID || len(dir.Servers) == 0 || dir.Servers[0] != a.name {
		return fmt.Errorf("directory answer %+v, want room %s on %s", dir, roomID, a.name)
	}

	r.begin("bob joins by the alias")
	if err := bob.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(alias), map[string]any{}, nil); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, roomID, func(v *roomView) bool { return v.members[bob.UserID] == "join" }); err != nil {
		return err
	}

	r.begin("bob pages back on B past his join: the history comes from A (/backfill)")
	var bodies []string
	from := ""
	for page := 0; page < 10; page++ {
		var res struct {
			Chunk []syncEvent `json:"chunk"`
			End   string      `json:"end"`
		}
		path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/messages?dir=b&limit=4"
		if from != "" {
			path += "&from=" + url.QueryEscape(from)
		}
		if err := bob.Do(ctx, http.MethodGet, path, nil, &res); err != nil {
			return err
		}
		for _, e := range res.Chunk {
			if e.Type == "m.room.message" {
				bodies = append(bodies, e.Content.Body)
			}
		}
		if res.End == "" {
			break
		}
		from = res.End
	}
	if got := strings.Join(bodies, ","); got != "old 5,old 4,old 3,old 2,old 1" {
		return fmt.Errorf("bob's history on B: %q", got)
	}

	r.begin("alice creates a marker room on A and bob joins it")
	marker, err := alice.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "public_chat", Name: "marker"})
	if err != nil {
		return err
	}
	if err := bob.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(marker)+"?server_name="+url.QueryEscape(a.name), map[string]any{}, nil); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, marker, func(v *roomView) bool { return v.members[bob.UserID] == "join" }); err != nil {
		return err
	}

	r.begin("alice denies B's host with m.room.server_acl; A sends B nothing more and refuses B's events")
	host := b.name[:strings.LastIndexByte(b.name, ':')]
	if err := alice.Do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/m.room.server_acl/",
		map[string]any{"allow": []string{"*"}, "deny": []string{host}}, nil); err != nil {
		return err
	}
	if _, err := alice.Send(ctx, roomID, "acl1", map[string]any{"msgtype": "m.text", "body": "not for B"}); err != nil {
		return err
	}
	if _, err := bob.Send(ctx, roomID, "acl2", map[string]any{"msgtype": "m.text", "body": "refused by A"}); err != nil {
		return err
	}
	// A's queue to B is in order: once B has the marker, anything of the room A had
	// queued for B before it would have arrived too.
	if _, err := alice.Send(ctx, marker, "acl3", map[string]any{"msgtype": "m.text", "body": "acl marker"}); err != nil {
		return err
	}
	if err := r.waitSync(ctx, bob, marker, func(v *roomView) bool { return v.bodies["acl marker"] }); err != nil {
		return err
	}
	time.Sleep(time.Second) // B's refused transaction has had time to reach A
	for _, c := range []struct {
		who  *csapi.Client
		body string
	}{{bob, "not for B"}, {alice, "refused by A"}} {
		var res struct {
			Chunk []syncEvent `json:"chunk"`
		}
		if err := c.who.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/messages?dir=b&limit=10", nil, &res); err != nil {
			return err
		}
		for _, e := range res.Chunk {
			if e.Content.Body == c.body {
				return fmt.Errorf("%s saw %q despite the server ACL", c.who.UserID, c.body)
			}
		}
	}
	return nil
}
