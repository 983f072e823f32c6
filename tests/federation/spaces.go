package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/axon-matrix/axon/internal/csapi"
)

// spacesScenario (issue 12, item 2) on A and B: spacesRound with alice's space on A and
// bob asking B.
func (r *run) spacesScenario(ctx context.Context, a, b *server, alice, bob *csapi.Client) error {
	return r.spacesRound(ctx, "A→B", alice, bob, a.name, b.name, false, true)
}

// spacesRound: owner creates a space on ownerServer with a public room of that server as
// a child (published in its directory); asker creates a room on askerServer, a child too.
// asker asks its own server for the space's /hierarchy and gets all three (its server asks
// ownerServer's federation /hierarchy for the space, which it does not hold, and uses its
// own room for the child it holds); with joinFirst asker joins the space before (Synapse
// asks other servers only about rooms below a space it holds: a room ID names no server to
// ask), so that its server asks ownerServer about the child room instead; with directory,
// asker also lists ownerServer's public rooms through its own server (/publicRooms?server=,
// GET and POST with a filter).
func (r *run) spacesRound(ctx context.Context, tag string, owner, asker *csapi.Client, ownerServer, askerServer string, joinFirst, directory bool) error {
	r.begin(fmt.Sprintf("[spaces %s] %s creates a space with a public room as a child; %s creates a room on %s, a child too", tag, owner.UserID, asker.UserID, askerServer))
	create := func(c *csapi.Client, body map[string]any) (string, error) {
		var res struct {
			RoomID string `json:"room_id"`
		}
		err := c.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", body, &res)
		return res.RoomID, err
	}
	space, err := create(owner, map[string]any{"preset": "public_chat", "name": "A space",
		"creation_content": map[string]any{"type": "m.space"}})
	if err != nil {
		return err
	}
	ownerRoom, err := create(owner, map[string]any{"preset": "public_chat", "name": "Spaced room of " + ownerServer, "visibility": "public"})
	if err != nil {
		return err
	}
	askerRoom, err := create(asker, map[string]any{"preset": "public_chat", "name": "Spaced room of " + askerServer})
	if err != nil {
		return err
	}
	for child, via := range map[string]string{ownerRoom: ownerServer, askerRoom: askerServer} {
		path := "/_matrix/client/v3/rooms/" + url.PathEscape(space) + "/state/m.space.child/" + url.PathEscape(child)
		if err := owner.Do(ctx, http.MethodPut, path, map[string]any{"via": []string{via}}, nil); err != nil {
			return err
		}
	}

	if joinFirst {
		r.begin(fmt.Sprintf("[spaces %s] %s joins the space", tag, asker.UserID))
		if err := asker.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(space)+"?server_name="+url.QueryEscape(ownerServer), map[string]any{}, nil); err != nil {
			return err
		}
	}
	r.begin(fmt.Sprintf("[spaces %s] %s asks %s for the space's /hierarchy: the space and its child from %s (federation /hierarchy), its own room", tag, asker.UserID, askerServer, ownerServer))
	var h struct {
		Rooms []struct {
			RoomID        string           `json:"room_id"`
			RoomType      string           `json:"room_type"`
			ChildrenState []map[string]any `json:"children_state"`
		} `json:"rooms"`
	}
	if err := asker.Do(ctx, http.MethodGet, "/_matrix/client/v1/rooms/"+url.PathEscape(space)+"/hierarchy", nil, &h); err != nil {
		return err
	}
	var got []string
	for _, room := range h.Rooms {
		got = append(got, room.RoomID)
	}
	if len(h.Rooms) != 3 || got[0] != space || h.Rooms[0].RoomType != "m.space" || len(h.Rooms[0].ChildrenState) != 2 ||
		!slices.Contains(got, ownerRoom) || !slices.Contains(got, askerRoom) {
		return fmt.Errorf("hierarchy from %s: %+v, want %s, %s and %s", askerServer, h.Rooms, space, ownerRoom, askerRoom)
	}
	if !directory {
		return nil
	}

	r.begin(fmt.Sprintf("[spaces %s] %s lists %s's public rooms through %s (/publicRooms?server=, GET and POST with a filter)", tag, asker.UserID, ownerServer, askerServer))
	type entry struct {
		RoomID string `json:"room_id"`
		Name   string `json:"name"`
	}
	type page struct {
		Chunk []entry `json:"chunk"`
	}
	var all page
	if err := asker.Do(ctx, http.MethodGet, "/_matrix/client/v3/publicRooms?server="+url.QueryEscape(ownerServer), nil, &all); err != nil {
		return err
	}
	if !slices.Contains(all.Chunk, entry{RoomID: ownerRoom, Name: "Spaced room of " + ownerServer}) {
		return fmt.Errorf("%s's directory through %s: %+v, want %s", ownerServer, askerServer, all.Chunk, ownerRoom)
	}
	var filtered page
	if err := asker.Do(ctx, http.MethodPost, "/_matrix/client/v3/publicRooms?server="+url.QueryEscape(ownerServer),
		map[string]any{"limit": 5, "filter": map[string]any{"generic_search_term": "spaced room of"}}, &filtered); err != nil {
		return err
	}
	if len(filtered.Chunk) != 1 || filtered.Chunk[0].RoomID != ownerRoom {
		return fmt.Errorf("%s's filtered directory through %s: %+v, want only %s", ownerServer, askerServer, filtered.Chunk, ownerRoom)
	}
	return nil
}
