package main

// The Axon ↔ Synapse scenario (issue 12, item 7): one Axon monolith (named 127.0.0.1:PORT,
// federation over TLS, as in main.go) and a real Synapse from scripts/synapse.sh (SQLite,
// a self-signed certificate, federation_verify_certificates: false). For each room
// version: a room created on Synapse is joined from Axon and a room created on Axon is
// joined from Synapse (both by room ID with server_name); in each, the joiner pages back
// through history from before its server joined (/backfill, synapse_history.go), messages,
// redactions and a topic go both ways and every step is checked on the side that did not
// write it.
//
// When SYNAPSE_URL, SYNAPSE_SERVER_NAME and SYNAPSE_SHARED_SECRET are set (the exports of
// `scripts/synapse.sh start DIR`), that Synapse is used; otherwise the scenario starts one
// in its temporary directory and stops it at the end.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

// synapseRoomVersions are the room versions the scenario runs in.
var synapseRoomVersions = []string{"10", "11", "12"}

const synapseSummary = "Axon ↔ Synapse over TLS in room versions 10, 11 and 12: rooms created on each side joined from the other, history from before the join paged back with /messages (backfill) both ways, messages, redactions, power levels, topics and leaves both ways; invites both ways rejected, then accepted, then kicked; knocks both ways, then invited and joined; space hierarchies both ways, Axon's public rooms listed from Synapse and Synapse's from Axon"

// synapse is the Synapse the scenario talks to.
type synapse struct {
	url, name, secret string
}

func (r *run) synapseScenario() error {
	ctx := context.Background()
	r.begin("build axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	r.begin("start Synapse (scripts/synapse.sh)")
	syn, err := r.startSynapse()
	if err != nil {
		return err
	}
	r.say("synapse %s, clients on %s", syn.name, syn.url)
	r.begin("configure and start Axon server A")
	a, err := r.start(bin, "A")
	if err != nil {
		return err
	}
	r.servers = append(r.servers, a)

	r.begin("register alice on A and carol on Synapse (shared-secret registration)")
	alice := &csapi.Client{BaseURL: a.clientURL}
	if _, err := alice.Register(ctx, "alice", "alice-password-1", "test"); err != nil {
		return fmt.Errorf("alice: %w", err)
	}
	// A Synapse named by the environment may be reused across runs: a fresh user each time.
	carol, err := syn.register(ctx, fmt.Sprintf("carol%d", rand.IntN(1e9)), "carol-password-1")
	if err != nil {
		return fmt.Errorf("carol: %w", err)
	}

	for _, version := range synapseRoomVersions {
		if err := r.synapseRound(ctx, version, "synapse", carol, alice, syn.name); err != nil {
			return err
		}
		if err := r.synapseRound(ctx, version, "axon", alice, carol, a.name); err != nil {
			return err
		}
	}
	// Knocks both ways (make_knock/send_knock), in version 10.
	if err := r.synapseKnockRound(ctx, "synapse", carol, alice, syn.name); err != nil {
		return err
	}
	if err := r.synapseKnockRound(ctx, "axon", alice, carol, a.name); err != nil {
		return err
	}
	// Synapse's public rooms listed by an Axon user (scripts/synapse.sh turns on
	// allow_public_rooms_over_federation and lets users publish rooms
	// (room_list_publication_rules), both off by default in Synapse).
	if err := r.synapsePublicRooms(ctx, carol, alice, syn.name); err != nil {
		return err
	}
	// Spaces both ways (spaces.go): Axon's /hierarchy client and server against Synapse's;
	// Synapse's directory is checked above with a name unique to this run.
	if err := r.spacesRound(ctx, "synapse→axon", carol, alice, syn.name, a.name, false, false); err != nil {
		return err
	}
	if err := r.spacesRound(ctx, "axon→synapse", alice, carol, a.name, syn.name, true, true); err != nil {
		return err
	}
	r.step = "done"
	return nil
}

// synapseRound: owner creates a public room in version on its server (named side), joiner
// joins it through ownerServer, then messages and a topic go both ways.
func (r *run) synapseRound(ctx context.Context, version, side string, owner, joiner *csapi.Client, ownerServer string) error {
	tag := fmt.Sprintf("v%s/%s", version, side)
	r.begin(fmt.Sprintf("[%s] %s creates a public room in version %s", tag, owner.UserID, version))
	var created struct {
		RoomID string `json:"room_id"`
	}
	if err := owner.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom",
		map[string]any{"preset": "public_chat", "name": "federation " + tag, "room_version": version}, &created); err != nil {
		return err
	}
	roomID := created.RoomID
	r.say("room %s", roomID)
	if err := r.synapseHistoryBefore(ctx, tag, owner, roomID); err != nil {
		return err
	}

	r.begin(fmt.Sprintf("[%s] %s joins by room ID with server_name %s", tag, joiner.UserID, ownerServer))
	if err := joiner.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+url.QueryEscape(ownerServer),
		map[string]any{}, nil); err != nil {
		return err
	}
	r.begin(fmt.Sprintf("[%s] %s sees the join in /sync", tag, owner.UserID))
	if err := r.waitSync(ctx, owner, roomID, func(v *roomView) bool { return v.members[joiner.UserID] == "join" }); err != nil {
		return err
	}

	fromOwner, fromJoiner := "hello from the owner "+tag, "hello from the joiner "+tag
	r.begin(fmt.Sprintf("[%s] messages both ways", tag))
	if _, err := owner.Send(ctx, roomID, "o"+tag, map[string]any{"msgtype": "m.text", "body": fromOwner}); err != nil {
		return err
	}
	if _, err := joiner.Send(ctx, roomID, "j"+tag, map[string]any{"msgtype": "m.text", "body": fromJoiner}); err != nil {
		return err
	}
	both := func(v *roomView) bool { return v.bodies[fromOwner] && v.bodies[fromJoiner] }
	r.begin(fmt.Sprintf("[%s] %s sees both messages and the owner's membership", tag, joiner.UserID))
	if err := r.waitSync(ctx, joiner, roomID, func(v *roomView) bool { return both(v) && v.members[owner.UserID] == "join" }); err != nil {
		return err
	}
	r.begin(fmt.Sprintf("[%s] %s sees both messages", tag, owner.UserID))
	if err := r.waitSync(ctx, owner, roomID, both); err != nil {
		return err
	}
	if err := r.synapseBackfill(ctx, tag, joiner, roomID); err != nil {
		return err
	}
	if err := r.synapseRedactions(ctx, tag, owner, joiner, roomID); err != nil {
		return err
	}

	r.begin(fmt.Sprintf("[%s] %s gives %s power level 50 (m.room.power_levels)", tag, owner.UserID, joiner.UserID))
	plPath := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/state/m.room.power_levels/"
	var pl map[string]any
	if err := owner.Do(ctx, http.MethodGet, plPath, nil, &pl); err != nil {
		return err
	}
	users, _ := pl["users"].(map[string]any)
	if users == nil {
		users = map[string]any{}
	}
	users[joiner.UserID] = 50
	pl["users"] = users
	if err := owner.Do(ctx, http.MethodPut, plPath, pl, nil); err != nil {
		return err
	}

	for _, w := range []struct {
		who, reader *csapi.Client
		topic       string
	}{{owner, joiner, "topic by the owner " + tag}, {joiner, owner, "topic by the joiner " + tag}} {
		r.begin(fmt.Sprintf("[%s] %s sets the topic; %s sees it", tag, w.who.UserID, w.reader.UserID))
		// The joiner's server may not have the new power levels yet: retry a 403.
		deadline := time.Now().Add(r.timeout)
		for {
			err := w.who.Do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/m.room.topic/",
				map[string]any{"topic": w.topic}, nil)
			var e *csapi.Error
			if err == nil {
				break
			}
			if !errors.As(err, &e) || e.Status != http.StatusForbidden || time.Now().After(deadline) {
				return err
			}
			time.Sleep(200 * time.Millisecond)
		}
		topic := w.topic
		if err := r.waitSync(ctx, w.reader, roomID, func(v *roomView) bool { return v.topic == topic }); err != nil {
			return err
		}
	}

	r.begin(fmt.Sprintf("[%s] %s leaves; %s sees the leave", tag, joiner.UserID, owner.UserID))
	if err := membership(ctx, joiner, roomID, "leave", ""); err != nil {
		return err
	}
	if err := r.waitSync(ctx, owner, roomID, func(v *roomView) bool { return v.members[joiner.UserID] == "leave" }); err != nil {
		return err
	}
	return r.synapseInviteRound(ctx, version, side, owner, joiner)
}

// synapseInviteRound: inviter creates a private room in version and invites invitee, who
// rejects the invite (make_leave/send_leave), is invited again, joins (no server_name: through
// the inviter's server), sends a message and is kicked.
func (r *run) synapseInviteRound(ctx context.Context, version, side string, inviter, invitee *csapi.Client) error {
	tag := fmt.Sprintf("v%s/%s/invite", version, side)
	memberIs := func(user, m string) func(*roomView) bool {
		return func(v *roomView) bool { return v.members[user] == m }
	}
	r.begin(fmt.Sprintf("[%s] %s creates a private room and invites %s; the invite shows in /sync", tag, inviter.UserID, invitee.UserID))
	var created struct {
		RoomID string `json:"room_id"`
	}
	if err := inviter.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom",
		map[string]any{"preset": "private_chat", "name": "invite " + tag, "room_version": version}, &created); err != nil {
		return err
	}
	roomID := created.RoomID
	r.say("room %s", roomID)
	if err := membership(ctx, inviter, roomID, "invite", invitee.UserID); err != nil {
		return err
	}
	if err := r.waitSync(ctx, invitee, roomID, func(v *roomView) bool { return v.invited && v.members[invitee.UserID] == "invite" }); err != nil {
		return err
	}
	r.begin(fmt.Sprintf("[%s] %s rejects the invite; %s sees the leave", tag, invitee.UserID, inviter.UserID))
	if err := membership(ctx, invitee, roomID, "leave", ""); err != nil {
		return err
	}
	if err := r.waitSync(ctx, inviter, roomID, memberIs(invitee.UserID, "leave")); err != nil {
		return err
	}
	r.begin(fmt.Sprintf("[%s] %s invites again; %s joins without server_name", tag, inviter.UserID, invitee.UserID))
	if err := membership(ctx, inviter, roomID, "invite", invitee.UserID); err != nil {
		return err
	}
	if err := r.waitSync(ctx, invitee, roomID, func(v *roomView) bool { return v.invited && v.members[invitee.UserID] == "invite" }); err != nil {
		return err
	}
	if err := invitee.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID), map[string]any{}, nil); err != nil {
		return err
	}
	if err := r.waitSync(ctx, inviter, roomID, memberIs(invitee.UserID, "join")); err != nil {
		return err
	}
	body := "hello after the invite " + tag
	if _, err := invitee.Send(ctx, roomID, "i"+tag, map[string]any{"msgtype": "m.text", "body": body}); err != nil {
		return err
	}
	if err := r.waitSync(ctx, inviter, roomID, func(v *roomView) bool { return v.bodies[body] }); err != nil {
		return err
	}
	r.begin(fmt.Sprintf("[%s] %s kicks %s; the kick shows on both sides", tag, inviter.UserID, invitee.UserID))
	if err := membership(ctx, inviter, roomID, "kick", invitee.UserID); err != nil {
		return err
	}
	if err := r.waitSync(ctx, invitee, roomID, memberIs(invitee.UserID, "leave")); err != nil {
		return err
	}
	return r.waitSync(ctx, inviter, roomID, memberIs(invitee.UserID, "leave"))
}

// synapseKnockRound: owner creates a version 10 room whose join rule is knock on its
// server (named side); knocker knocks through ownerServer (make_knock/send_knock) and sees
// the room in its /sync knock section; owner sees the knock and invites; knocker joins.
func (r *run) synapseKnockRound(ctx context.Context, side string, owner, knocker *csapi.Client, ownerServer string) error {
	tag := "v10/" + side + "/knock"
	r.begin(fmt.Sprintf("[%s] %s creates a room with join rule knock; %s knocks and sees it in /sync", tag, owner.UserID, knocker.UserID))
	var created struct {
		RoomID string `json:"room_id"`
	}
	if err := owner.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", map[string]any{"preset": "private_chat",
		"name": "knock " + tag, "room_version": "10", "initial_state": []any{map[string]any{"type": "m.room.join_rules",
			"state_key": "", "content": map[string]any{"join_rule": "knock"}}}}, &created); err != nil {
		return err
	}
	roomID := created.RoomID
	r.say("room %s", roomID)
	if err := knocker.Do(ctx, http.MethodPost, "/_matrix/client/v3/knock/"+url.PathEscape(roomID)+"?server_name="+url.QueryEscape(ownerServer),
		map[string]any{"reason": "knock knock"}, nil); err != nil {
		return err
	}
	if err := r.waitSync(ctx, knocker, roomID, func(v *roomView) bool { return v.knocked }); err != nil {
		return err
	}
	r.begin(fmt.Sprintf("[%s] %s sees the knock and invites; %s joins", tag, owner.UserID, knocker.UserID))
	if err := r.waitSync(ctx, owner, roomID, func(v *roomView) bool { return v.members[knocker.UserID] == "knock" }); err != nil {
		return err
	}
	if err := membership(ctx, owner, roomID, "invite", knocker.UserID); err != nil {
		return err
	}
	if err := r.waitSync(ctx, knocker, roomID, func(v *roomView) bool { return v.invited }); err != nil {
		return err
	}
	if err := knocker.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+url.QueryEscape(ownerServer),
		map[string]any{}, nil); err != nil {
		return err
	}
	return r.waitSync(ctx, owner, roomID, func(v *roomView) bool { return v.members[knocker.UserID] == "join" })
}

// synapsePublicRooms: owner (on Synapse) creates a public room published in Synapse's
// directory under a name unique to this run (a Synapse reused across runs keeps the rooms of
// earlier ones); asker lists Synapse's public rooms through Axon (/publicRooms?server=: GET,
// paged with since, and POST with a filter on the name), and finds it both ways.
func (r *run) synapsePublicRooms(ctx context.Context, owner, asker *csapi.Client, synapseName string) error {
	name := fmt.Sprintf("Synapse directory room %d", rand.IntN(1e9))
	r.begin(fmt.Sprintf("[directory] %s publishes %q on Synapse; %s lists Synapse's public rooms through Axon (/publicRooms?server=, GET and POST with a filter)", owner.UserID, name, asker.UserID))
	var created struct {
		RoomID string `json:"room_id"`
	}
	if err := owner.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom",
		map[string]any{"preset": "public_chat", "visibility": "public", "name": name}, &created); err != nil {
		return err
	}
	// createRoom leaves a room Synapse may not publish unpublished, silently; this says why.
	if err := owner.Do(ctx, http.MethodPut, "/_matrix/client/v3/directory/list/room/"+url.PathEscape(created.RoomID),
		map[string]any{"visibility": "public"}, nil); err != nil {
		return fmt.Errorf("publishing %s in Synapse's directory (its room_list_publication_rules): %w", created.RoomID, err)
	}
	type page struct {
		Chunk []struct {
			RoomID string `json:"room_id"`
			Name   string `json:"name"`
		} `json:"chunk"`
		NextBatch string `json:"next_batch"`
	}
	listed := func(p page) bool {
		for _, c := range p.Chunk {
			if c.RoomID == created.RoomID && c.Name == name {
				return true
			}
		}
		return false
	}
	// Synapse lists a room once its room statistics are updated, which it does in the
	// background: the list is read again for up to 20 s.
	found := false
	for deadline := time.Now().Add(20 * time.Second); !found; time.Sleep(250 * time.Millisecond) {
		since := ""
		for range 50 {
			q := "/_matrix/client/v3/publicRooms?limit=50&server=" + url.QueryEscape(synapseName)
			if since != "" {
				q += "&since=" + url.QueryEscape(since)
			}
			var p page
			if err := asker.Do(ctx, http.MethodGet, q, nil, &p); err != nil {
				return fmt.Errorf("GET /publicRooms?server=%s: %w", synapseName, err)
			}
			if found = listed(p); found || p.NextBatch == "" {
				break
			}
			since = p.NextBatch
		}
		if !found && time.Now().After(deadline) {
			return fmt.Errorf("Synapse's directory through Axon (GET): %s (%q) not listed", created.RoomID, name)
		}
	}
	var filtered page
	if err := asker.Do(ctx, http.MethodPost, "/_matrix/client/v3/publicRooms?server="+url.QueryEscape(synapseName),
		map[string]any{"limit": 5, "filter": map[string]any{"generic_search_term": name}}, &filtered); err != nil {
		return fmt.Errorf("POST /publicRooms?server=%s: %w", synapseName, err)
	}
	if len(filtered.Chunk) != 1 || !listed(filtered) {
		return fmt.Errorf("Synapse's filtered directory through Axon: %+v, want only %s", filtered.Chunk, created.RoomID)
	}
	return nil
}

// build builds the two commands the scenarios run into r.work/bin.
func (r *run) build() (string, error) {
	bin := filepath.Join(r.work, "bin")
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./cmd/axon-monolith", "./cmd/axon-generate-config")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return bin, nil
}

// startSynapse uses the Synapse named by the environment, or starts one with
// scripts/synapse.sh in r.work/synapse (stopped by stopAll).
func (r *run) startSynapse() (*synapse, error) {
	s := &synapse{url: os.Getenv("SYNAPSE_URL"), name: os.Getenv("SYNAPSE_SERVER_NAME"), secret: os.Getenv("SYNAPSE_SHARED_SECRET")}
	if s.url != "" {
		if s.name == "" || s.secret == "" {
			return nil, fmt.Errorf("SYNAPSE_URL is set but SYNAPSE_SERVER_NAME or SYNAPSE_SHARED_SECRET is not")
		}
		return s, nil
	}
	dir := filepath.Join(r.work, "synapse")
	var stderr bytes.Buffer
	cmd := exec.Command("bash", "scripts/synapse.sh", "start", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	r.logs = append(r.logs, filepath.Join(dir, "homeserver.log"))
	r.stops = append(r.stops, func() { _ = exec.Command("bash", "scripts/synapse.sh", "stop", dir).Run() })
	if err != nil {
		return nil, fmt.Errorf("scripts/synapse.sh start: %v: %s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if !ok {
			continue
		}
		switch k {
		case "SYNAPSE_URL":
			s.url = v
		case "SYNAPSE_SERVER_NAME":
			s.name = v
		case "SYNAPSE_SHARED_SECRET":
			s.secret = v
		}
	}
	if s.url == "" || s.name == "" || s.secret == "" {
		return nil, fmt.Errorf("scripts/synapse.sh start printed no exports: %q", out)
	}
	return s, nil
}

// register creates a user on Synapse with its shared-secret registration (the admin API's
// nonce and HMAC-SHA1 over nonce, user, password and "notadmin") and returns its client.
func (s *synapse) register(ctx context.Context, user, password string) (*csapi.Client, error) {
	c := &csapi.Client{BaseURL: s.url}
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := c.Do(ctx, http.MethodGet, "/_synapse/admin/v1/register", nil, &nonce); err != nil {
		return nil, err
	}
	mac := hmac.New(sha1.New, []byte(s.secret))
	mac.Write([]byte(nonce.Nonce + "\x00" + user + "\x00" + password + "\x00notadmin"))
	var res csapi.Session
	if err := c.Do(ctx, http.MethodPost, "/_synapse/admin/v1/register", map[string]any{
		"nonce": nonce.Nonce, "username": user, "password": password, "admin": false, "mac": hex.EncodeToString(mac.Sum(nil)),
	}, &res); err != nil {
		return nil, err
	}
	c.AccessToken, c.UserID, c.DeviceID = res.AccessToken, res.UserID, res.DeviceID
	return c, nil
}
