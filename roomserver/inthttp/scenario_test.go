package inthttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/roomserver/api"
)

// recorder keeps a transcript of the scenario's results, reduced to what must not depend on
// the implementation that answered: random room IDs and event IDs are replaced by names,
// events by their type, state key, sender and content (no hashes, signatures or times).
type recorder struct {
	t     *testing.T
	names map[string]string // room or event ID → stable name
	lines []string
}

// name makes id appear as as in the transcript.
func (r *recorder) name(id, as string) {
	if id != "" {
		r.names[id] = as
	}
}

func (r *recorder) norm(s string) string {
	for id, as := range r.names {
		s = strings.ReplaceAll(s, id, as)
	}
	return s
}

// want records a call's result v (JSON-encoded, so nil and empty lists differ) or its
// error (status, errcode, message and extra fields), and fails the test unless the error
// has the wanted status and errcode (0 and "": no error).
func (r *recorder) want(what string, v any, err error, wantStatus int, wantCode string) {
	r.t.Helper()
	line := what + ": "
	var me *httputil.MatrixError
	switch {
	case errors.As(err, &me):
		extra, _ := json.Marshal(me.Extra)
		line += fmt.Sprintf("error %d %s %q extra=%s", me.Status, me.ErrCode, me.Err, extra)
	case err != nil:
		line += "error " + err.Error()
	default:
		b, jerr := json.Marshal(v)
		if jerr != nil {
			r.t.Fatalf("%s: %v", what, jerr)
		}
		line += string(b)
	}
	r.lines = append(r.lines, r.norm(line))
	if s, c := status(err); s != wantStatus || c != wantCode {
		r.t.Errorf("%s: got %d %s (%v), want %d %s", what, s, c, err, wantStatus, wantCode)
	}
}

// sent records a SendEvent or PerformMembership answer and names its event as.
func (r *recorder) sent(as, what string, resp *api.SendEventResponse, err error, wantStatus int, wantCode string) {
	r.t.Helper()
	if resp != nil {
		r.name(resp.EventID, as)
	}
	r.want(what, resp, err, wantStatus, wantCode)
}

// evs reduces events (federation format) to sorted "type|state_key|sender|content" lines;
// nil stays nil.
func evs(t *testing.T, raw []json.RawMessage) []string {
	if raw == nil {
		return nil
	}
	out := make([]string, 0, len(raw))
	for _, e := range raw {
		out = append(out, evLine(t, e))
	}
	sort.Strings(out)
	return out
}

func evLine(t *testing.T, raw json.RawMessage) string {
	var e struct {
		Type     string          `json:"type"`
		StateKey *string         `json:"state_key"`
		Sender   string          `json:"sender"`
		Content  json.RawMessage `json:"content"`
		Redacts  string          `json:"redacts"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("event %s: %v", raw, err)
	}
	sk := "-"
	if e.StateKey != nil {
		sk = *e.StateKey
	}
	return strings.Join([]string{e.Type, sk, e.Sender, string(e.Content), e.Redacts}, "|")
}

// sorted returns ss with its IDs named, sorted (the order of a set of rooms is no part of
// the contract); nil stays nil.
func (r *recorder) sorted(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = r.norm(s)
	}
	sort.Strings(out)
	return out
}

// scenario calls every method of api.RoomserverAPI, with successes and the errors a client
// can cause, and returns the transcript. Arrow 4 (clientapi → roomserver) uses all of them;
// arrow 2 (syncapi → roomserver) uses QueryEvent.
func scenario(t *testing.T, a api.RoomserverAPI) []string {
	ctx := context.Background()
	r := &recorder{t: t, names: map[string]string{}}
	u := func(lp string) string { return "@" + lp + ":" + server }
	alice, bob, carol, dave, eve, frank := u("alice"), u("bob"), u("carol"), u("dave"), u("eve"), u("frank")
	remote := "@mallory:elsewhere.example"
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	sk := func(s string) *string { return &s }
	const unknownRoom = "!unknown:" + server

	// CreateRoom: every request field, and the errors.
	pub, err := a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "public_chat", Visibility: "public",
		Name: "Pub", Topic: "About pub", RoomAliasName: "pub", Invite: []string{carol},
		CreatorMemberContent:      raw(`{"displayname":"Alice A"}`),
		InitialState:              []api.InitialStateEvt{{Type: "m.room.guest_access", Content: raw(`{"guest_access":"can_join"}`)}},
		PowerLevelContentOverride: raw(`{"events":{"m.room.topic":100}}`)})
	if err != nil {
		t.Fatal(err)
	}
	r.name(pub.RoomID, "!PUB")
	r.want("CreateRoom public", pub, err, 0, "")
	knock, err := a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "private_chat", IsDirect: true,
		Invite: []string{dave}, RoomVersion: "12", CreationContent: raw(`{"m.federate":false}`),
		InitialState: []api.InitialStateEvt{{Type: "m.room.join_rules", Content: raw(`{"join_rule":"knock"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	r.name(knock.RoomID, "!KNOCK")
	r.want("CreateRoom knock", knock, err, 0, "")
	second, err := a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: bob, Preset: "public_chat", Visibility: "public", Name: "Second"})
	if err != nil {
		t.Fatal(err)
	}
	r.name(second.RoomID, "!SECOND")
	r.want("CreateRoom second", second, err, 0, "")
	createErrs := []struct {
		name   string
		req    api.CreateRoomRequest
		status int
		code   string
	}{
		{"unsupported version", api.CreateRoomRequest{UserID: alice, RoomVersion: "0"}, 400, "M_UNSUPPORTED_ROOM_VERSION"},
		{"alias in use", api.CreateRoomRequest{UserID: alice, RoomAliasName: "pub"}, 400, "M_ROOM_IN_USE"},
		{"bad alias name", api.CreateRoomRequest{UserID: alice, RoomAliasName: "a:b"}, 400, "M_INVALID_PARAM"},
		{"unknown preset", api.CreateRoomRequest{UserID: alice, Preset: "party"}, 400, "M_INVALID_PARAM"},
		{"bad visibility", api.CreateRoomRequest{UserID: alice, Visibility: "sideways"}, 400, "M_INVALID_PARAM"},
		{"bad creator", api.CreateRoomRequest{UserID: "alice"}, 400, "M_INVALID_PARAM"},
		{"bad invitee", api.CreateRoomRequest{UserID: alice, Invite: []string{"bob"}}, 400, "M_INVALID_PARAM"},
		{"remote invitee", api.CreateRoomRequest{UserID: alice, Invite: []string{remote}}, 403, "M_FORBIDDEN"},
		{"creation_content not JSON", api.CreateRoomRequest{UserID: alice, CreationContent: raw(`[`)}, 400, "M_BAD_JSON"},
		{"creation_content not object", api.CreateRoomRequest{UserID: alice, CreationContent: raw(`[1]`)}, 400, "M_BAD_JSON"},
		{"power override not JSON", api.CreateRoomRequest{UserID: alice, PowerLevelContentOverride: raw(`{`)}, 400, "M_BAD_JSON"},
		{"initial_state content not JSON", api.CreateRoomRequest{UserID: alice,
			InitialState: []api.InitialStateEvt{{Type: "m.room.topic", Content: raw(`{nope`)}}}, 400, "M_BAD_JSON"},
		{"initial_state member", api.CreateRoomRequest{UserID: alice,
			InitialState: []api.InitialStateEvt{{Type: "m.room.member", StateKey: bob, Content: raw(`{"membership":"join"}`)}}}, 400, "M_BAD_JSON"},
	}
	for _, tc := range createErrs {
		resp, err := a.CreateRoom(ctx, &tc.req)
		r.want("CreateRoom "+tc.name, resp, err, tc.status, tc.code)
	}

	// PerformMembership: every action, extra content, and the errors.
	memb := func(as, what string, req api.MembershipRequest, status int, code string) {
		t.Helper()
		resp, err := a.PerformMembership(ctx, &req)
		r.sent(as, "PerformMembership "+what, resp, err, status, code)
	}
	memb("$bobjoin", "join by alias", api.MembershipRequest{Action: "join", RoomID: "#pub:" + server, Sender: bob,
		DeviceID: "BOBDEV", Content: raw(`{"displayname":"Bobby"}`)}, 0, "")
	memb("$caroljoin", "invited join", api.MembershipRequest{Action: "join", RoomID: pub.RoomID, Sender: carol}, 0, "")
	memb("$carolkick", "kick", api.MembershipRequest{Action: "kick", RoomID: pub.RoomID, Sender: alice, Target: carol, Reason: "bye"}, 0, "")
	memb("$daveban", "ban", api.MembershipRequest{Action: "ban", RoomID: pub.RoomID, Sender: alice, Target: dave, Reason: "spam"}, 0, "")
	memb("$daveunban", "unban", api.MembershipRequest{Action: "unban", RoomID: pub.RoomID, Sender: alice, Target: dave}, 0, "")
	memb("$eveinvite", "invite", api.MembershipRequest{Action: "invite", RoomID: pub.RoomID, Sender: alice, Target: eve}, 0, "")
	memb("", "invite without power", api.MembershipRequest{Action: "invite", RoomID: pub.RoomID, Sender: bob, Target: frank}, 403, "M_FORBIDDEN")
	memb("$eveknock", "knock", api.MembershipRequest{Action: "knock", RoomID: knock.RoomID, Sender: eve, Reason: "let me in"}, 0, "")
	memb("$frankleave", "leave never joined", api.MembershipRequest{Action: "leave", RoomID: second.RoomID, Sender: frank}, 403, "M_FORBIDDEN")
	memb("$daveunban", "unban repeated is a no-op", api.MembershipRequest{Action: "unban", RoomID: pub.RoomID, Sender: alice, Target: dave}, 0, "")
	memb("", "unban not banned", api.MembershipRequest{Action: "unban", RoomID: pub.RoomID, Sender: alice, Target: frank}, 403, "M_FORBIDDEN")
	memb("", "kick not member", api.MembershipRequest{Action: "kick", RoomID: pub.RoomID, Sender: alice, Target: frank}, 403, "M_FORBIDDEN")
	memb("", "kick without power", api.MembershipRequest{Action: "kick", RoomID: pub.RoomID, Sender: bob, Target: alice}, 403, "M_FORBIDDEN")
	memb("", "join invite-only", api.MembershipRequest{Action: "join", RoomID: knock.RoomID, Sender: frank}, 403, "M_FORBIDDEN")
	memb("", "unknown action", api.MembershipRequest{Action: "hug", RoomID: pub.RoomID, Sender: bob, Target: alice}, 400, "M_INVALID_PARAM")
	memb("", "bad sender", api.MembershipRequest{Action: "join", RoomID: pub.RoomID, Sender: "bob"}, 400, "M_INVALID_PARAM")
	memb("", "bad target", api.MembershipRequest{Action: "invite", RoomID: pub.RoomID, Sender: bob, Target: "eve"}, 400, "M_INVALID_PARAM")
	memb("", "leave by alias", api.MembershipRequest{Action: "leave", RoomID: "#pub:" + server, Sender: bob}, 400, "M_INVALID_PARAM")
	memb("", "join unknown room", api.MembershipRequest{Action: "join", RoomID: unknownRoom, Sender: frank}, 404, "M_NOT_FOUND")
	memb("", "join unknown alias", api.MembershipRequest{Action: "join", RoomID: "#nowhere:" + server, Sender: frank}, 404, "M_NOT_FOUND")
	memb("", "content not JSON", api.MembershipRequest{Action: "join", RoomID: second.RoomID, Sender: frank, Content: raw(`{nope`)}, 400, "M_BAD_JSON")

	// SendEvent: messages, idempotent transactions, state, redactions, and the errors.
	send := func(as, what string, req api.SendEventRequest, status int, code string) {
		t.Helper()
		resp, err := a.SendEvent(ctx, &req)
		r.sent(as, "SendEvent "+what, resp, err, status, code)
	}
	msg := raw(`{"msgtype":"m.text","body":"hi"}`)
	send("$bobmsg", "message with txn", api.SendEventRequest{RoomID: pub.RoomID, Sender: bob, DeviceID: "BOBDEV", TxnID: "t1",
		Type: "m.room.message", Content: msg}, 0, "")
	send("$bobmsg", "same txn again", api.SendEventRequest{RoomID: pub.RoomID, Sender: bob, DeviceID: "BOBDEV", TxnID: "t1",
		Type: "m.room.message", Content: msg}, 0, "")
	send("$alicemsg", "message", api.SendEventRequest{RoomID: pub.RoomID, Sender: alice, Type: "m.room.message", Content: msg}, 0, "")
	send("$topic", "state", api.SendEventRequest{RoomID: pub.RoomID, Sender: alice, Type: "m.room.topic", StateKey: sk(""),
		Content: raw(`{"topic":"New topic"}`)}, 0, "")
	send("$bobred", "redaction of own event", api.SendEventRequest{RoomID: pub.RoomID, Sender: bob, Type: "m.room.redaction",
		Redacts: r.idOf("$bobmsg"), Content: raw(`{"reason":"oops"}`)}, 0, "")
	big := raw(`{"body":"` + strings.Repeat("x", 70000) + `"}`)
	sendErrs := []struct {
		name   string
		req    api.SendEventRequest
		status int
		code   string
	}{
		{"state without power", api.SendEventRequest{RoomID: pub.RoomID, Sender: bob, Type: "m.room.topic", StateKey: sk(""), Content: raw(`{"topic":"x"}`)}, 403, "M_FORBIDDEN"},
		{"not a member", api.SendEventRequest{RoomID: pub.RoomID, Sender: frank, Type: "m.room.message", Content: msg}, 403, "M_FORBIDDEN"},
		{"redaction of another's event", api.SendEventRequest{RoomID: pub.RoomID, Sender: bob, Type: "m.room.redaction", Redacts: r.idOf("$alicemsg"), Content: raw(`{}`)}, 403, "M_FORBIDDEN"},
		{"redaction without target", api.SendEventRequest{RoomID: pub.RoomID, Sender: bob, Type: "m.room.redaction", Content: raw(`{}`)}, 400, "M_MISSING_PARAM"},
		{"redaction of unknown event", api.SendEventRequest{RoomID: pub.RoomID, Sender: bob, Type: "m.room.redaction", Redacts: "$unknown", Content: raw(`{}`)}, 404, "M_NOT_FOUND"},
		{"content not JSON", api.SendEventRequest{RoomID: pub.RoomID, Sender: alice, Type: "m.room.message", Content: raw(`{nope`)}, 400, "M_BAD_JSON"},
		{"content not object", api.SendEventRequest{RoomID: pub.RoomID, Sender: alice, Type: "m.room.message", Content: raw(`[]`)}, 400, "M_BAD_JSON"},
		{"no type", api.SendEventRequest{RoomID: pub.RoomID, Sender: alice, Content: msg}, 400, "M_BAD_JSON"},
		{"bad sender", api.SendEventRequest{RoomID: pub.RoomID, Sender: "alice", Type: "m.room.message", Content: msg}, 400, "M_INVALID_PARAM"},
		{"unknown room", api.SendEventRequest{RoomID: unknownRoom, Sender: alice, Type: "m.room.message", Content: msg}, 404, "M_NOT_FOUND"},
		{"too large", api.SendEventRequest{RoomID: pub.RoomID, Sender: alice, Type: "m.room.message", Content: big}, 413, "M_TOO_LARGE"},
		{"canonical alias elsewhere", api.SendEventRequest{RoomID: pub.RoomID, Sender: alice, Type: "m.room.canonical_alias", StateKey: sk(""),
			Content: raw(`{"alias":"#nowhere:` + server + `"}`)}, 400, "M_BAD_ALIAS"},
	}
	for _, tc := range sendErrs {
		resp, err := a.SendEvent(ctx, &tc.req)
		r.want("SendEvent "+tc.name, resp, err, tc.status, tc.code)
	}

	// QueryEvent (arrow 2 as well as 4).
	queryEvent := func(what, id string, status int, code string) {
		t.Helper()
		ev, err := a.QueryEvent(ctx, id)
		var v any
		if ev != nil {
			v = map[string]any{"room_version": ev.RoomVersion, "redacted": ev.Redacted, "event": evLine(t, ev.Event)}
		}
		r.want("QueryEvent "+what, v, err, status, code)
	}
	queryEvent("message", r.idOf("$alicemsg"), 0, "")
	queryEvent("redacted", r.idOf("$bobmsg"), 0, "")
	queryEvent("redaction", r.idOf("$bobred"), 0, "")
	queryEvent("unknown", "$unknown", 404, "M_NOT_FOUND")
	// QueryEventsByID: the known ones of many (unknown left out, a repeat once), the bound.
	queryEvents := func(what string, ids []string, wantN, status int, code string) {
		t.Helper()
		evs, err := a.QueryEventsByID(ctx, ids)
		if len(evs) != wantN {
			t.Errorf("QueryEventsByID %s: %d events, want %d", what, len(evs), wantN)
		}
		var v any
		if err == nil {
			m := map[string]any{}
			for id, ev := range evs {
				m[r.norm(id)] = map[string]any{"room_version": ev.RoomVersion, "redacted": ev.Redacted, "event": evLine(t, ev.Event)}
			}
			v = m
		}
		r.want("QueryEventsByID "+what, v, err, status, code)
	}
	queryEvents("several", []string{r.idOf("$alicemsg"), r.idOf("$bobmsg"), "$unknown", r.idOf("$alicemsg"), r.idOf("$bobred")}, 3, 0, "")
	queryEvents("none", nil, 0, 0, "")
	queryEvents("too many", make([]string, api.MaxQueryEvents+1), 0, 400, "M_INVALID_PARAM")

	// QueryMembership.
	queryMembership := func(what, roomID, userID string, status int, code string) {
		t.Helper()
		m, id, err := a.QueryMembership(ctx, roomID, userID)
		r.want("QueryMembership "+what, []string{m, id}, err, status, code)
	}
	queryMembership("joined", pub.RoomID, bob, 0, "")
	queryMembership("kicked", pub.RoomID, carol, 0, "")
	queryMembership("unbanned", pub.RoomID, dave, 0, "")
	queryMembership("invited", pub.RoomID, eve, 0, "")
	queryMembership("knocked", knock.RoomID, eve, 0, "")
	queryMembership("never", pub.RoomID, frank, 0, "")
	queryMembership("unknown room", unknownRoom, bob, 404, "M_NOT_FOUND")

	// QueryCurrentState and QueryStateForUser.
	currentState := func(what, roomID string, tuples []api.StateTuple, status int, code string) {
		t.Helper()
		st, err := a.QueryCurrentState(ctx, roomID, tuples)
		r.want("QueryCurrentState "+what, evs(t, st), err, status, code)
	}
	currentState("all", pub.RoomID, nil, 0, "")
	currentState("one tuple", pub.RoomID, []api.StateTuple{{EventType: "m.room.member", StateKey: bob}}, 0, "")
	currentState("two tuples", knock.RoomID, []api.StateTuple{{EventType: "m.room.join_rules"}, {EventType: "m.room.create"}}, 0, "")
	currentState("no match", pub.RoomID, []api.StateTuple{{EventType: "m.room.nothing"}}, 0, "")
	currentState("unknown room", unknownRoom, nil, 404, "M_NOT_FOUND")
	stateForUser := func(what, roomID, userID string, tuples []api.StateTuple, status int, code string) {
		t.Helper()
		st, err := a.QueryStateForUser(ctx, roomID, userID, tuples)
		r.want("QueryStateForUser "+what, evs(t, st), err, status, code)
	}
	stateForUser("joined", pub.RoomID, bob, nil, 0, "")
	stateForUser("joined one tuple", pub.RoomID, bob, []api.StateTuple{{EventType: "m.room.topic"}}, 0, "")
	stateForUser("kicked", pub.RoomID, carol, nil, 0, "")
	stateForUser("never", pub.RoomID, frank, nil, 403, "M_FORBIDDEN")
	stateForUser("invited", pub.RoomID, eve, nil, 403, "M_FORBIDDEN")
	stateForUser("unknown room", unknownRoom, bob, nil, 404, "M_NOT_FOUND")

	// QueryRoomVersion and QueryRoomsForUser.
	for _, c := range []struct {
		what, roomID string
		status       int
		code         string
	}{{"pub", pub.RoomID, 0, ""}, {"knock", knock.RoomID, 0, ""}, {"unknown", unknownRoom, 404, "M_NOT_FOUND"}} {
		v, err := a.QueryRoomVersion(ctx, c.roomID)
		r.want("QueryRoomVersion "+c.what, v, err, c.status, c.code)
	}
	for _, c := range []struct {
		what, userID string
		memberships  []string
	}{
		{"alice joined", alice, []string{"join"}},
		{"eve invited or knocked", eve, []string{"invite", "knock"}},
		{"carol left", carol, []string{"leave"}},
		{"frank joined", frank, []string{"join"}},
		{"bob any of none", bob, nil},
	} {
		rooms, err := a.QueryRoomsForUser(ctx, c.userID, c.memberships)
		r.want("QueryRoomsForUser "+c.what, r.sorted(rooms), err, 0, "")
	}

	// QueryWritePosition (arrow 2, read-your-writes): positions are the same in both
	// transcripts, since the scenario writes in the same order.
	for _, c := range []struct{ what, roomID, userID string }{
		{"room", pub.RoomID, ""}, {"user", "", alice}, {"room and user", knock.RoomID, bob},
		{"unknown room", unknownRoom, ""}, {"unknown user", "", "@nobody:" + server}, {"neither", "", ""},
	} {
		pos, err := a.QueryWritePosition(ctx, c.roomID, c.userID)
		r.want("QueryWritePosition "+c.what, pos, err, 0, "")
	}

	// Aliases.
	aliasErr := func(what string, err error, status int, code string) {
		t.Helper()
		r.want(what, nil, err, status, code)
	}
	aliasErr("SetRoomAlias", a.SetRoomAlias(ctx, "#other:"+server, pub.RoomID, bob), 0, "")
	aliasErr("SetRoomAlias taken", a.SetRoomAlias(ctx, "#other:"+server, second.RoomID, bob), 409, "M_UNKNOWN")
	aliasErr("SetRoomAlias invalid", a.SetRoomAlias(ctx, "other", pub.RoomID, bob), 400, "M_INVALID_PARAM")
	aliasErr("SetRoomAlias other server", a.SetRoomAlias(ctx, "#other:elsewhere.example", pub.RoomID, bob), 400, "M_INVALID_PARAM")
	aliasErr("SetRoomAlias remote user", a.SetRoomAlias(ctx, "#mal:"+server, pub.RoomID, remote), 403, "M_FORBIDDEN")
	aliasErr("SetRoomAlias unknown room", a.SetRoomAlias(ctx, "#ghost:"+server, unknownRoom, bob), 404, "M_NOT_FOUND")
	for _, c := range []struct {
		what, alias string
		status      int
		code        string
	}{
		{"created with room", "#pub:" + server, 0, ""},
		{"set", "#other:" + server, 0, ""},
		{"unknown", "#nowhere:" + server, 404, "M_NOT_FOUND"},
		{"other server", "#pub:elsewhere.example", 404, "M_NOT_FOUND"},
		{"invalid", "pub", 400, "M_INVALID_PARAM"},
	} {
		roomID, servers, err := a.ResolveRoomAlias(ctx, c.alias)
		r.want("ResolveRoomAlias "+c.what, map[string]any{"room_id": roomID, "servers": servers}, err, c.status, c.code)
	}
	for _, c := range []struct {
		what, roomID string
		status       int
		code         string
	}{{"pub", pub.RoomID, 0, ""}, {"none", knock.RoomID, 0, ""}, {"unknown", unknownRoom, 404, "M_NOT_FOUND"}} {
		aliases, err := a.GetAliasesForRoom(ctx, c.roomID)
		r.want("GetAliasesForRoom "+c.what, r.sorted(aliases), err, c.status, c.code)
	}
	aliasErr("RemoveRoomAlias without power", a.RemoveRoomAlias(ctx, "#pub:"+server, bob), 403, "M_FORBIDDEN")
	aliasErr("RemoveRoomAlias unknown", a.RemoveRoomAlias(ctx, "#nowhere:"+server, bob), 404, "M_NOT_FOUND")
	aliasErr("RemoveRoomAlias invalid", a.RemoveRoomAlias(ctx, "nowhere", bob), 400, "M_INVALID_PARAM")
	aliasErr("RemoveRoomAlias by creator", a.RemoveRoomAlias(ctx, "#other:"+server, bob), 0, "")
	aliases, err := a.GetAliasesForRoom(ctx, pub.RoomID)
	r.want("GetAliasesForRoom after remove", r.sorted(aliases), err, 0, "")

	// Directory visibility and the public room list.
	aliasErr("SetRoomVisibility without power", a.SetRoomVisibility(ctx, pub.RoomID, bob, "private"), 403, "M_FORBIDDEN")
	aliasErr("SetRoomVisibility bad value", a.SetRoomVisibility(ctx, pub.RoomID, alice, "sideways"), 400, "M_INVALID_PARAM")
	aliasErr("SetRoomVisibility unknown room", a.SetRoomVisibility(ctx, unknownRoom, alice, "public"), 404, "M_NOT_FOUND")
	for _, c := range []struct {
		what, roomID string
		status       int
		code         string
	}{{"pub", pub.RoomID, 0, ""}, {"knock", knock.RoomID, 0, ""}, {"unknown", unknownRoom, 404, "M_NOT_FOUND"}} {
		v, err := a.GetRoomVisibility(ctx, c.roomID)
		r.want("GetRoomVisibility "+c.what, v, err, c.status, c.code)
	}
	for _, c := range []struct {
		what   string
		req    api.PublicRoomsRequest
		status int
		code   string
	}{
		{"all", api.PublicRoomsRequest{}, 0, ""},
		{"first page", api.PublicRoomsRequest{Limit: 1}, 0, ""},
		{"second page", api.PublicRoomsRequest{Limit: 1, Since: "1"}, 0, ""},
		{"filter", api.PublicRoomsRequest{Filter: "SECOND"}, 0, ""},
		{"filter no match", api.PublicRoomsRequest{Filter: "zzz"}, 0, ""},
		{"bad since", api.PublicRoomsRequest{Since: "x"}, 400, "M_INVALID_PARAM"},
	} {
		resp, err := a.QueryPublicRooms(ctx, &c.req)
		r.want("QueryPublicRooms "+c.what, resp, err, c.status, c.code)
	}
	aliasErr("SetRoomVisibility private", a.SetRoomVisibility(ctx, pub.RoomID, alice, "private"), 0, "")
	v, err := a.GetRoomVisibility(ctx, pub.RoomID)
	r.want("GetRoomVisibility after private", v, err, 0, "")
	pr, err := a.QueryPublicRooms(ctx, &api.PublicRoomsRequest{})
	r.want("QueryPublicRooms after private", pr, err, 0, "")

	// Forget.
	aliasErr("Forget while joined", a.Forget(ctx, pub.RoomID, alice), 400, "M_UNKNOWN")
	aliasErr("Forget while invited", a.Forget(ctx, pub.RoomID, eve), 400, "M_UNKNOWN")
	aliasErr("Forget while knocking", a.Forget(ctx, knock.RoomID, eve), 400, "M_UNKNOWN")
	aliasErr("Forget unknown room", a.Forget(ctx, unknownRoom, carol), 404, "M_NOT_FOUND")
	aliasErr("Forget after kick", a.Forget(ctx, pub.RoomID, carol), 0, "")
	memb("$bobleave", "leave", api.MembershipRequest{Action: "leave", RoomID: second.RoomID, Sender: bob}, 0, "")
	aliasErr("Forget after leave", a.Forget(ctx, second.RoomID, bob), 0, "")

	// Arrow 3 (federationapi → roomserver): the answers that do not depend on times or keys.
	in, err := a.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "remote.example", RoomID: pub.RoomID,
		Events: []api.FederationEvent{{EventID: "$x", JSON: json.RawMessage(`{"type":"m.room.message"}`)}}})
	r.want("InputFederationEvents malformed event", in, err, 0, "")
	in, err = a.InputFederationEvents(ctx, &api.InputFederationEventsRequest{Origin: "remote.example", RoomID: unknownRoom})
	r.want("InputFederationEvents unknown room", in, err, 404, "M_NOT_FOUND")
	mj, err := a.QueryMakeJoin(ctx, &api.MakeJoinRequest{RoomID: pub.RoomID, UserID: "@zed:remote.example", Versions: []string{"1"}})
	r.want("QueryMakeJoin old version", mj, err, 400, "M_INCOMPATIBLE_ROOM_VERSION")
	mj, err = a.QueryMakeJoin(ctx, &api.MakeJoinRequest{RoomID: unknownRoom, UserID: "@zed:remote.example", Versions: []string{"10"}})
	r.want("QueryMakeJoin unknown room", mj, err, 404, "M_NOT_FOUND")
	inv, err := a.PerformInboundInvite(ctx, &api.InboundInviteRequest{RoomVersion: "999", Event: []byte(`{}`)})
	r.want("PerformInboundInvite unknown version", inv, err, 400, "M_INCOMPATIBLE_ROOM_VERSION")
	inv, err = a.PerformInboundInvite(ctx, &api.InboundInviteRequest{RoomVersion: "10", Event: []byte(`{"type":"m.room.message"}`)})
	r.want("PerformInboundInvite malformed", inv, err, 400, "M_BAD_JSON")
	sj, err := a.PerformSendJoin(ctx, &api.SendJoinRequest{Origin: "remote.example", RoomID: unknownRoom})
	r.want("PerformSendJoin unknown room", sj, err, 404, "M_NOT_FOUND")
	sj, err = a.PerformSendJoin(ctx, &api.SendJoinRequest{Origin: "remote.example", RoomID: pub.RoomID,
		Event: api.FederationEvent{JSON: json.RawMessage(`{}`)}})
	r.want("PerformSendJoin malformed", sj, err, 400, "M_BAD_JSON")
	sc, err := a.QueryStateAndAuthChain(ctx, &api.StateAndAuthChainRequest{RoomID: pub.RoomID, EventID: "$unknown"})
	r.want("QueryStateAndAuthChain unknown event", sc, err, 404, "M_NOT_FOUND")
	me, err := a.QueryMissingEvents(ctx, &api.MissingEventsRequest{RoomID: unknownRoom, LatestEvents: []string{"$x"}})
	r.want("QueryMissingEvents unknown room", me, err, 404, "M_NOT_FOUND")
	me, err = a.QueryMissingEvents(ctx, &api.MissingEventsRequest{RoomID: pub.RoomID, LatestEvents: []string{"$unknown"}})
	r.want("QueryMissingEvents unknown event", me, err, 0, "")
	for _, srv := range []string{server, "remote.example"} {
		ok, err := a.QueryServerAllowedInRoom(ctx, pub.RoomID, srv)
		r.want("QueryServerAllowedInRoom "+srv, ok, err, 0, "")
	}
	ac, err := a.QueryAuthChain(ctx, &api.AuthChainRequest{RoomID: pub.RoomID, EventID: "$unknown"})
	r.want("QueryAuthChain unknown event", ac, err, 404, "M_NOT_FOUND")
	bf, err := a.QueryBackfill(ctx, &api.BackfillRequest{RoomID: unknownRoom, EventIDs: []string{"$x"}, Limit: 5})
	r.want("QueryBackfill unknown room", bf, err, 404, "M_NOT_FOUND")
	bf, err = a.QueryBackfill(ctx, &api.BackfillRequest{RoomID: pub.RoomID, EventIDs: []string{"$unknown"}, Limit: 5, Server: "remote.example"})
	r.want("QueryBackfill unknown event", bf, err, 0, "")
	pb, err := a.PerformBackfill(ctx, &api.BackfillHistoryRequest{RoomID: unknownRoom, EventIDs: []string{"$x"}, Limit: 5})
	r.want("PerformBackfill unknown room", pb, err, 404, "M_NOT_FOUND")
	pb, err = a.PerformBackfill(ctx, &api.BackfillHistoryRequest{RoomID: pub.RoomID, EventIDs: []string{"$unknown"}, Limit: 5})
	r.want("PerformBackfill unknown event", pb, err, 0, "")
	ts, err := a.QueryEventByTimestamp(ctx, &api.EventByTimestampRequest{RoomID: unknownRoom, TS: 0, Dir: "f"})
	r.want("QueryEventByTimestamp unknown room", ts, err, 404, "M_NOT_FOUND")
	ts, err = a.QueryEventByTimestamp(ctx, &api.EventByTimestampRequest{RoomID: pub.RoomID, TS: 0, Dir: "up"})
	r.want("QueryEventByTimestamp bad dir", ts, err, 400, "M_INVALID_PARAM")
	hr, err := a.QueryHierarchy(ctx, &api.HierarchyRequest{RoomID: pub.RoomID, UserID: alice})
	r.want("QueryHierarchy", hr, err, 0, "")
	hr, err = a.QueryHierarchy(ctx, &api.HierarchyRequest{RoomID: unknownRoom, UserID: alice})
	r.want("QueryHierarchy unknown room", hr, err, 403, "M_FORBIDDEN")
	hr, err = a.QueryHierarchy(ctx, &api.HierarchyRequest{RoomID: pub.RoomID, UserID: alice, From: "unknown"})
	r.want("QueryHierarchy unknown token", hr, err, 400, "M_INVALID_PARAM")
	fh, err := a.QueryFederationHierarchy(ctx, &api.FederationHierarchyRequest{RoomID: pub.RoomID, Origin: "remote.example"})
	r.want("QueryFederationHierarchy", fh, err, 0, "")
	fh, err = a.QueryFederationHierarchy(ctx, &api.FederationHierarchyRequest{RoomID: unknownRoom, Origin: "remote.example"})
	r.want("QueryFederationHierarchy unknown room", fh, err, 404, "M_NOT_FOUND")

	// Every method of the interface was called: a method added to api.RoomserverAPI later
	// fails here until the scenario calls it.
	iface := reflect.TypeOf((*api.RoomserverAPI)(nil)).Elem()
	for i := 0; i < iface.NumMethod(); i++ {
		m := iface.Method(i).Name
		found := false
		for _, l := range r.lines {
			found = found || strings.HasPrefix(l, m+" ")
		}
		if !found {
			t.Errorf("the scenario never calls %s", m)
		}
	}
	return r.lines
}

// idOf returns the event ID named as (the test fails if there is none).
func (r *recorder) idOf(as string) string {
	r.t.Helper()
	for id, n := range r.names {
		if n == as {
			return id
		}
	}
	r.t.Fatalf("no event named %s", as)
	return ""
}
