package pushrules

import (
	"encoding/json"
	"testing"
)

const me = "@alice:example.org"

func msg(sender, body string, extra ...string) []byte {
	content := map[string]any{"msgtype": "m.text", "body": body}
	for i := 0; i+1 < len(extra); i += 2 {
		content[extra[i]] = extra[i+1]
	}
	b, _ := json.Marshal(map[string]any{"type": "m.room.message", "sender": sender, "room_id": "!r:example.org",
		"content": content})
	return b
}

func ev(v map[string]any) []byte {
	if _, ok := v["room_id"]; !ok {
		v["room_id"] = "!r:example.org"
	}
	if _, ok := v["sender"]; !ok {
		v["sender"] = "@bob:example.org"
	}
	b, _ := json.Marshal(v)
	return b
}

// TestEvaluateDefaults: the server-default rules decide as the spec's predefined rules say.
func TestEvaluateDefaults(t *testing.T) {
	group := &Room{MemberCount: 5, SenderPower: 0}
	dm := &Room{MemberCount: 2}
	admin := &Room{MemberCount: 5, SenderPower: 100}
	for _, c := range []struct {
		name      string
		event     []byte
		room      *Room
		display   string
		notify    bool
		highlight bool
		rule      string
	}{
		{"plain message", msg("@bob:example.org", "hello"), group, "Alice A", true, false, ".m.rule.message"},
		{"one to one", msg("@bob:example.org", "hello"), dm, "", true, false, ".m.rule.room_one_to_one"},
		{"notice", msg("@bob:example.org", "bot says", "msgtype", "m.notice"), group, "", false, false, ".m.rule.suppress_notices"},
		{"display name", msg("@bob:example.org", "hi alice a, look"), group, "Alice A", true, true, ".m.rule.contains_display_name"},
		{"display name inside a word", msg("@bob:example.org", "hi ally bc"), group, "Ally B", true, false, ".m.rule.message"},
		{"localpart", msg("@bob:example.org", "ALICE: ping"), group, "Someone", true, true, ".m.rule.contains_user_name"},
		{"localpart inside a word", msg("@bob:example.org", "malice"), group, "", true, false, ".m.rule.message"},
		{"@room without power", msg("@bob:example.org", "@room hi"), group, "", true, false, ".m.rule.message"},
		{"@room with power", msg("@bob:example.org", "@room hi"), admin, "", true, true, ".m.rule.roomnotif"},
		{"user mention", ev(map[string]any{"type": "m.room.message", "content": map[string]any{"body": "x",
			"m.mentions": map[string]any{"user_ids": []string{"@carol:example.org", me}}}}), group, "", true, true, ".m.rule.is_user_mention"},
		{"other user mention", ev(map[string]any{"type": "m.room.message", "content": map[string]any{"body": "x",
			"m.mentions": map[string]any{"user_ids": []string{"@carol:example.org"}}}}), group, "", true, false, ".m.rule.message"},
		{"room mention with power", ev(map[string]any{"type": "m.room.message", "content": map[string]any{"body": "x",
			"m.mentions": map[string]any{"room": true}}}), admin, "", true, true, ".m.rule.is_room_mention"},
		{"room mention without power", ev(map[string]any{"type": "m.room.message", "content": map[string]any{"body": "x",
			"m.mentions": map[string]any{"room": true}}}), group, "", true, false, ".m.rule.message"},
		{"edit", ev(map[string]any{"type": "m.room.message", "content": map[string]any{"body": "* alice",
			"m.relates_to": map[string]any{"rel_type": "m.replace", "event_id": "$x"}}}), group, "", false, false, ".m.rule.suppress_edits"},
		{"invite for me", ev(map[string]any{"type": "m.room.member", "state_key": me, "content": map[string]any{"membership": "invite"}}),
			group, "", true, false, ".m.rule.invite_for_me"},
		{"invite for another", ev(map[string]any{"type": "m.room.member", "state_key": "@carol:example.org",
			"content": map[string]any{"membership": "invite"}}), group, "", false, false, ".m.rule.member_event"},
		{"tombstone", ev(map[string]any{"type": "m.room.tombstone", "state_key": "", "content": map[string]any{"body": "moved"}}),
			group, "", true, true, ".m.rule.tombstone"},
		{"reaction", ev(map[string]any{"type": "m.reaction", "content": map[string]any{}}), group, "", false, false, ".m.rule.reaction"},
		{"encrypted group", ev(map[string]any{"type": "m.room.encrypted", "content": map[string]any{}}), group, "", true, false, ".m.rule.encrypted"},
		{"encrypted dm", ev(map[string]any{"type": "m.room.encrypted", "content": map[string]any{}}), dm, "", true, false, ".m.rule.encrypted_room_one_to_one"},
		{"call", ev(map[string]any{"type": "m.call.invite", "content": map[string]any{}}), group, "", true, false, ".m.rule.call"},
		{"other type", ev(map[string]any{"type": "m.room.topic", "state_key": "", "content": map[string]any{"topic": "alice"}}), group, "", false, false, ""},
		{"invalid JSON", []byte("{"), group, "", false, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := NewUser(me, c.display)
			got := Compile(Defaults(me)).Evaluate(NewEvent(c.event), c.room, &u)
			if got.Notify != c.notify || got.Highlight != c.highlight || got.RuleID != c.rule {
				t.Fatalf("got %+v, want notify %v highlight %v by %q", got, c.notify, c.highlight, c.rule)
			}
		})
	}
}

// TestConditions: each condition kind alone, in an override rule.
func TestConditions(t *testing.T) {
	body := msg("@bob:example.org", "Hello World", "num", "x")
	withProps := ev(map[string]any{"type": "m.room.message", "content": map[string]any{"n": 3, "b": false, "z": nil,
		"s": "Str", "list": []any{"a", 2, true}, "a.b": map[string]any{"c": "dotted"}, "f": 1.5}})
	for _, c := range []struct {
		name  string
		cond  map[string]any
		event []byte
		room  Room
		want  bool
	}{
		{"event_match type", eventMatch("type", "m.room.*"), body, Room{}, true},
		{"event_match type mismatch", eventMatch("type", "m.reaction"), body, Room{}, false},
		{"event_match case-insensitive", eventMatch("content.msgtype", "M.TEXT"), body, Room{}, true},
		{"event_match body words", eventMatch("content.body", "world"), body, Room{}, true},
		{"event_match body partial word", eventMatch("content.body", "worl"), body, Room{}, false},
		{"event_match other key is whole", eventMatch("content.msgtype", "m"), body, Room{}, false},
		{"event_match absent key", eventMatch("content.nope", "*"), body, Room{}, false},
		{"event_match non-string", eventMatch("content.n", "*"), withProps, Room{}, false},
		{"event_match sender", eventMatch("sender", "@bob:*"), body, Room{}, true},
		{"event_match room_id", eventMatch("room_id", "!r:example.org"), body, Room{}, true},
		{"event_match escaped dot", eventMatch(`content.a\.b.c`, "dotted"), withProps, Room{}, true},
		{"event_match missing pattern", cond("kind", "event_match", "key", "type"), body, Room{}, false},
		{"property_is int", cond("kind", "event_property_is", "key", "content.n", "value", 3), withProps, Room{}, true},
		{"property_is int (float64 from JSON)", cond("kind", "event_property_is", "key", "content.n", "value", 3.0), withProps, Room{}, true},
		{"property_is int mismatch", cond("kind", "event_property_is", "key", "content.n", "value", 4), withProps, Room{}, false},
		{"property_is bool", cond("kind", "event_property_is", "key", "content.b", "value", false), withProps, Room{}, true},
		{"property_is null", cond("kind", "event_property_is", "key", "content.z", "value", nil), withProps, Room{}, true},
		{"property_is string exact case", cond("kind", "event_property_is", "key", "content.s", "value", "Str"), withProps, Room{}, true},
		{"property_is string other case", cond("kind", "event_property_is", "key", "content.s", "value", "str"), withProps, Room{}, false},
		{"property_is string vs int", cond("kind", "event_property_is", "key", "content.n", "value", "3"), withProps, Room{}, false},
		{"property_is float never", cond("kind", "event_property_is", "key", "content.f", "value", 1.5), withProps, Room{}, false},
		{"property_is absent", cond("kind", "event_property_is", "key", "content.q", "value", nil), withProps, Room{}, false},
		{"property_contains", cond("kind", "event_property_contains", "key", "content.list", "value", 2), withProps, Room{}, true},
		{"property_contains string", cond("kind", "event_property_contains", "key", "content.list", "value", "a"), withProps, Room{}, true},
		{"property_contains missing value", cond("kind", "event_property_contains", "key", "content.list", "value", "b"), withProps, Room{}, false},
		{"property_contains not a list", cond("kind", "event_property_contains", "key", "content.s", "value", "Str"), withProps, Room{}, false},
		{"member_count bare", cond("kind", "room_member_count", "is", "2"), body, Room{MemberCount: 2}, true},
		{"member_count ==", cond("kind", "room_member_count", "is", "==3"), body, Room{MemberCount: 2}, false},
		{"member_count <", cond("kind", "room_member_count", "is", "<3"), body, Room{MemberCount: 2}, true},
		{"member_count < equal", cond("kind", "room_member_count", "is", "<2"), body, Room{MemberCount: 2}, false},
		{"member_count >", cond("kind", "room_member_count", "is", ">1"), body, Room{MemberCount: 2}, true},
		{"member_count <=", cond("kind", "room_member_count", "is", "<=2"), body, Room{MemberCount: 2}, true},
		{"member_count >=", cond("kind", "room_member_count", "is", ">=3"), body, Room{MemberCount: 2}, false},
		{"member_count malformed", cond("kind", "room_member_count", "is", "two"), body, Room{MemberCount: 2}, false},
		{"sender permission default 50", cond("kind", "sender_notification_permission", "key", "room"), body, Room{SenderPower: 50}, true},
		{"sender permission below", cond("kind", "sender_notification_permission", "key", "room"), body, Room{SenderPower: 49}, false},
		{"sender permission custom level", cond("kind", "sender_notification_permission", "key", "room"), body,
			Room{SenderPower: 10, NotificationLevels: map[string]int64{"room": 10}}, true},
		{"display name", cond("kind", "contains_display_name"), msg("@bob:example.org", "hi Ally!"), Room{}, true},
		{"unknown kind", cond("kind", "org.example.future"), body, Room{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := Ruleset{Override: []PushRule{{RuleID: "x", Enabled: true, Conditions: conds(c.cond), Actions: []any{"notify"}}}}
			u := NewUser(me, "Ally")
			got := Compile(rs).Evaluate(NewEvent(c.event), &c.room, &u)
			if got.Notify != c.want {
				t.Fatalf("matched = %v, want %v", got.Notify, c.want)
			}
		})
	}
}

// TestUserRules: rules of the user's own: kinds in order, disabled rules skipped, room
// and sender rules, actions (dont_notify, coalesce, highlight values).
func TestUserRules(t *testing.T) {
	pat := "deploy*"
	rs := Defaults(me)
	rs.Room = []PushRule{{RuleID: "!muted:example.org", Enabled: true, Actions: []any{"dont_notify"}}}
	rs.Sender = []PushRule{{RuleID: "@boss:example.org", Enabled: true, Actions: []any{"notify", tweak("highlight", true)}}}
	rs.Content = append(rs.Content, PushRule{RuleID: "deploys", Enabled: true, Pattern: &pat, Actions: []any{"coalesce", tweak("highlight", nil)}})
	rs.Override = append(rs.Override, PushRule{RuleID: "off", Enabled: false, Conditions: conds(), Actions: []any{"dont_notify"}})
	for i := range rs.Underride {
		if rs.Underride[i].RuleID == ".m.rule.message" {
			rs.Underride[i].Enabled = false
		}
	}
	c := Compile(rs)
	room := &Room{MemberCount: 5}
	u := NewUser(me, "")
	muted := ev(map[string]any{"type": "m.room.message", "room_id": "!muted:example.org", "content": map[string]any{"body": "hi alice"}})
	for _, tc := range []struct {
		name              string
		event             []byte
		notify, highlight bool
	}{
		{"message rule disabled", msg("@bob:example.org", "hi"), false, false},
		{"sender rule", msg("@boss:example.org", "hi"), true, true},
		{"content rule glob", msg("@bob:example.org", "deploying now"), true, true},
		{"override before room rule", muted, true, true}, // contains_user_name is a content rule: before room rules
		{"room rule mutes", ev(map[string]any{"type": "m.room.message", "room_id": "!muted:example.org", "content": map[string]any{"body": "x"}}), false, false},
	} {
		got := c.Evaluate(NewEvent(tc.event), room, &u)
		if got.Notify != tc.notify || got.Highlight != tc.highlight {
			t.Errorf("%s: got %+v, want notify %v highlight %v", tc.name, got, tc.notify, tc.highlight)
		}
	}
	// The master rule enabled silences everything.
	rs = Defaults(me)
	rs.Override[0].Enabled = true
	if got := Compile(rs).Evaluate(NewEvent(msg("@bob:example.org", "alice")), room, &u); got.Notify || got.RuleID != ".m.rule.master" {
		t.Fatalf("master: %+v", got)
	}
	// Highlight without notify counts as neither.
	rs = Ruleset{Override: []PushRule{{RuleID: "h", Enabled: true, Conditions: conds(), Actions: []any{tweak("highlight", true)}}}}
	if got := Compile(rs).Evaluate(NewEvent(msg("@bob:example.org", "x")), room, &u); got.Notify || got.Highlight {
		t.Fatalf("highlight without notify: %+v", got)
	}
}

func TestCompileAccountData(t *testing.T) {
	u := NewUser(me, "")
	room := &Room{MemberCount: 5}
	plain := NewEvent(msg("@bob:example.org", "hi"))
	if !CompileAccountData(me, nil).Evaluate(plain, room, &u).Notify {
		t.Fatal("no content: the defaults notify a message")
	}
	if !CompileAccountData(me, []byte("not json")).Evaluate(plain, room, &u).Notify {
		t.Fatal("bad content: the defaults")
	}
	rs := Defaults(me)
	for i := range rs.Underride {
		rs.Underride[i].Enabled = false
	}
	raw, _ := json.Marshal(AccountData{Global: rs})
	if CompileAccountData(me, raw).Evaluate(plain, room, &u).Notify {
		t.Fatal("stored rules with every underride disabled still notify")
	}
	// Rules stored before a default existed get it, as GET /pushrules shows them: a
	// mention in m.mentions highlights although the stored set lacks .m.rule.is_user_mention.
	rs = Defaults(me)
	var kept []PushRule
	for _, r := range rs.Override {
		if r.RuleID != ".m.rule.is_user_mention" {
			kept = append(kept, r)
		}
	}
	rs.Override = kept
	raw, _ = json.Marshal(AccountData{Global: rs})
	mention := NewEvent(ev(map[string]any{"type": "m.room.message", "sender": "@bob:example.org",
		"content": map[string]any{"msgtype": "m.text", "body": "look", "m.mentions": map[string]any{"user_ids": []string{me}}}}))
	if got := CompileAccountData(me, raw).Evaluate(mention, room, &u); !got.Highlight || got.RuleID != ".m.rule.is_user_mention" {
		t.Fatalf("stored rules without a newer default: %+v", got)
	}
}

// BenchmarkEvaluateDefaults: one user's default rules against a plain message in a group
// room (every override and content rule fails, .m.rule.message matches): the cost of one
// member's count for one event. The event is flattened once, outside the loop, as the
// syncapi shares it between users.
func BenchmarkEvaluateDefaults(b *testing.B) {
	c := Compile(Defaults(me))
	e := NewEvent(msg("@bob:example.org", "Hello everyone, the deploy finished and the dashboards look fine again"))
	room := &Room{MemberCount: 1000}
	u := NewUser(me, "Alice Liddell")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := c.Evaluate(e, room, &u); !r.Notify || r.Highlight {
			b.Fatal(r)
		}
	}
}
