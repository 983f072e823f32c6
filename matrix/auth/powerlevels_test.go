package auth

import (
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/matrix"
)

func pl(content string) step { return step{TypePowerLevels, "", bob, content} }

// In these cases alice (creator, 100) set bob to 50 and carol to 50 (or as given), and
// bob sends the new power levels.
func TestPowerLevelChanges(t *testing.T) {
	joined := []step{member(bob, bob, "join"), member(carol, carol, "join")}
	u := map[string]int{bob: 50, carol: 20}
	cases := []roomCase{
		{name: "no change", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"state_default":50}`)},
		{name: "raise other to own level", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":50}}`)},
		{name: "raise other above own level", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":51}}`), want: "power_levels.users"},
		{name: "raise self", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":51,"@carol:c.org":20}}`), want: "power_levels.users"},
		{name: "demote self", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":10,"@carol:c.org":20}}`)},
		{name: "demote peer at own level", from: 1, to: 12, users: map[string]int{bob: 50, carol: 50}, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":0}}`), want: "power_levels.users"},
		{name: "remove peer at own level", from: 1, to: 12, users: map[string]int{bob: 50, carol: 50}, event: pl(`{"users":{"@bob:b.org":50}}`), want: "power_levels.users"},
		{name: "demote lower user", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":0}}`)},
		{name: "add user at own level", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20,"@dave:d.org":50}}`)},
		{name: "set ban above own", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"ban":51}`), want: "power_levels.ban"},
		{name: "set ban to own", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"ban":50}`)},
		{name: "change level above own", from: 1, to: 12, users: u, plExtra: `"kick":60`, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"kick":10}`), want: "power_levels.kick"},
		{name: "remove level above own", from: 1, to: 12, users: u, plExtra: `"redact":60`, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20}}`), want: "power_levels.redact"},
		{name: "events entry above own", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"events":{"m.room.name":60}}`), want: "power_levels.events"},
		{name: "events entry change from above", from: 1, to: 12, users: u, plExtra: `"events":{"m.room.power_levels":50,"m.room.name":60}`, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"events":{"m.room.power_levels":50,"m.room.name":0}}`), want: "power_levels.events"},
		{name: "events entry added at own", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"events":{"m.room.name":50}}`)},
		{name: "notifications above own (v6+)", from: 6, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"notifications":{"room":60}}`), want: "power_levels.notifications"},
		{name: "notifications unchecked before v6", from: 1, to: 5, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"notifications":{"room":60}}`)},
		{name: "needs state level", from: 1, to: 12, users: map[string]int{bob: 49}, event: pl(`{"users":{"@bob:b.org":49}}`), want: "event.level"},
		{name: "users key not a user ID", from: 1, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"carol":20}}`), want: "power_levels.content"},
		{name: "users not an object", from: 1, to: 12, users: u, event: pl(`{"users":[]}`), want: "power_levels.content"},
		{name: "string level accepted before v10", from: 1, to: 9, users: u, event: pl(`{"users":{"@bob:b.org":"50","@carol:c.org":" +020 "},"ban":"50"}`)},
		{name: "string user level rejected from v10", from: 10, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":"50","@carol:c.org":20}}`), want: "power_levels.content"},
		{name: "string ban rejected from v10", from: 10, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"ban":"50"}`), want: "power_levels.content"},
		{name: "string events value rejected from v10", from: 10, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50,"@carol:c.org":20},"events":{"m.room.name":"50"}}`), want: "power_levels.content"},
		{name: "float accepted before v6", from: 1, to: 5, users: u, event: pl(`{"users":{"@bob:b.org":50.9,"@carol:c.org":2.0e1}}`)},
		{name: "float rejected from v6", from: 6, to: 12, users: u, event: pl(`{"users":{"@bob:b.org":50.0,"@carol:c.org":20}}`), want: "power_levels.content"},
		{name: "bad string rejected", from: 1, to: 9, users: u, event: pl(`{"users":{"@bob:b.org":"fifty"}}`), want: "power_levels.content"},
		{name: "state_key names a user", from: 1, to: 12, users: u, event: step{"m.custom", carol, bob, `{}`}, want: "state_key.user"},
		{name: "state_key names the sender", from: 1, to: 12, users: u, event: step{"m.custom", bob, bob, `{}`}},
		{name: "state event below state_default", from: 1, to: 12, users: map[string]int{bob: 49}, event: step{"m.room.topic", "", bob, `{"topic":"t"}`}, want: "event.level"},
		{name: "event with custom level", from: 1, to: 12, users: u, plExtra: `"events":{"m.room.message":60}`, event: step{"m.room.message", "", bob, `{}`}, want: "event.level"},
	}
	for i := range cases {
		cases[i].joinRule = JoinRulePublic
		cases[i].setup = append(append([]step{}, joined...), cases[i].setup...)
	}
	runRoomCases(t, cases)
}

// A room whose current m.room.power_levels content is unusable (put there without an auth
// check, as Room.Add does here) refuses every further non-member event rather than guessing.
func TestInvalidCurrentPowerLevels(t *testing.T) {
	for _, v := range versions(1, 12) {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			r := newRoom(v, JoinRulePublic, nil, "")
			r.Add(TypePowerLevels, sk(""), alice, `{"users":[]}`)
			expect(t, check(t, r, r.Build("m.room.message", nil, alice, `{}`)), "power_levels.current")
		})
	}
}

// v12: creators may not appear in users, and their power is infinite when changing levels.
func TestPowerLevelsCreators(t *testing.T) {
	v := matrix.MustRoomVersion("12")
	r := newRoom(v, JoinRulePublic, map[string]int{bob: 100}, "")
	r.Join(bob)
	expect(t, check(t, r, r.Build(TypePowerLevels, sk(""), alice, `{"users":{"@alice:a.org":100}}`)), "power_levels.creators")
	// alice (infinite) may demote bob, who has 100.
	expect(t, check(t, r, r.Build(TypePowerLevels, sk(""), alice, `{"users":{"@bob:b.org":0}}`)), "")
	// bob (100) may not touch the creator's entry, nor add one.
	expect(t, check(t, r, r.Build(TypePowerLevels, sk(""), bob, `{"users":{"@bob:b.org":100,"@alice:a.org":0}}`)), "power_levels.creators")
	// An additional creator may not be listed either.
	r2 := newRoom(v, JoinRulePublic, nil, "")
	r2.Create.ContentJSON = json.RawMessage(`{"room_version":"12","additional_creators":["@carol:c.org"]}`)
	expect(t, check(t, r2, r2.Build(TypePowerLevels, sk(""), alice, `{"users":{"@carol:c.org":50}}`)), "power_levels.creators")
	// In v11 the creator may be listed.
	v11 := matrix.MustRoomVersion("11")
	r3 := newRoom(v11, JoinRulePublic, nil, "")
	expect(t, check(t, r3, r3.Build(TypePowerLevels, sk(""), alice, `{"users":{"@alice:a.org":100}}`)), "")
}

func TestParsePowerLevels(t *testing.T) {
	v1, v9, v10 := matrix.MustRoomVersion("1"), matrix.MustRoomVersion("9"), matrix.MustRoomVersion("10")
	cases := []struct {
		name    string
		v       *matrix.RoomVersion
		content string
		check   func(p *PowerLevels) bool
		wantErr bool
	}{
		{"defaults", v10, `{}`, func(p *PowerLevels) bool {
			return p.Ban == 50 && p.Kick == 50 && p.Redact == 50 && p.Invite == 0 && p.StateDefault == 50 &&
				p.EventsDefault == 0 && p.UsersDefault == 0 && p.NotificationLevel("room") == 50 &&
				p.EventLevel("m.room.name", true) == 50 && p.EventLevel("m.room.message", false) == 0
		}, false},
		{"explicit", v10, `{"users_default":5,"events_default":6,"state_default":7,"events":{"m.room.name":70},"users":{"@a:b":90},"notifications":{"room":10}}`,
			func(p *PowerLevels) bool {
				return p.UserPowerLevel("@a:b") == 90 && p.UserPowerLevel("@x:y") == 5 && p.EventLevel("m.room.name", true) == 70 &&
					p.EventLevel("m.room.topic", true) == 7 && p.EventLevel("m.x", false) == 6 && p.NotificationLevel("room") == 10
			}, false},
		{"stringy", v9, `{"ban":" -010 ","users":{"@a:b":"000100"}}`, func(p *PowerLevels) bool { return p.Ban == -10 && p.Users["@a:b"] == 100 }, false},
		{"stringy decimal", v9, `{"ban":"1.5"}`, nil, true},
		{"stringy double sign", v9, `{"ban":"+-1"}`, nil, true},
		{"floaty", v1, `{"ban":5.114698E4,"kick":-1.9}`, func(p *PowerLevels) bool { return p.Ban == 51146 && p.Kick == -1 }, false},
		{"null level", v1, `{"ban":null}`, nil, true},
		{"bool level", v10, `{"ban":true}`, nil, true},
		{"events not object", v10, `{"events":5}`, nil, true},
		{"events null", v10, `{"events":null}`, nil, true},
		{"int out of canonical range", v10, `{"ban":9007199254740992}`, nil, true},
		{"not object", v10, `[]`, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePowerLevels(json.RawMessage(c.content), c.v)
			if c.wantErr {
				if err == nil {
					t.Fatalf("want error, got %+v", p)
				}
				return
			}
			if err != nil || !c.check(p) {
				t.Fatalf("ParsePowerLevels(%s) = %+v, %v", c.content, p, err)
			}
		})
	}
}

func TestRedactionRule(t *testing.T) {
	for _, v := range versions(1, 12) {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			r := newRoom(v, JoinRulePublic, nil, "")
			r.Join(bob)
			own := r.Add("m.room.message", nil, bob, `{}`)
			foreign := r.Add("m.room.message", nil, alice, `{}`)
			red := func(target string) error {
				e := r.Build(TypeRedaction, nil, bob, `{}`)
				e.RedactsID = target
				return check(t, r, e)
			}
			expect(t, red(own.ID), "")
			if v.EventIDFormat == matrix.EventIDFormatServer {
				expect(t, red(foreign.ID), "redaction.level")
			} else {
				// From v3 redactions are authorised when applied, not by the auth rules.
				expect(t, red(foreign.ID), "")
			}
			r.Add(TypePowerLevels, sk(""), alice, plContent(v, map[string]int{alice: 100}, `"events":{"m.room.redaction":50}`))
			expect(t, red(own.ID), "event.level")
		})
	}
}

// Every top-level level is guarded the same way: bob (50) can set it up to 50 but not
// above, and cannot change it if it is already above 50.
func TestPowerLevelTopLevelKeys(t *testing.T) {
	for _, key := range topLevelKeys {
		joined := []step{member(bob, bob, "join")}
		u := map[string]int{bob: 50}
		users := `"users":{"@bob:b.org":50}`
		above := `"` + key + `":75`
		if key == "state_default" {
			// Keep m.room.power_levels itself sendable by bob.
			above += `,"events":{"m.room.power_levels":50}`
		}
		runRoomCases(t, []roomCase{
			{name: key + " set to own", from: 1, to: 12, joinRule: JoinRulePublic, users: u, setup: joined,
				event: pl(`{` + users + `,"` + key + `":50}`)},
			{name: key + " set above own", from: 1, to: 12, joinRule: JoinRulePublic, users: u, setup: joined,
				event: pl(`{` + users + `,"` + key + `":51}`), want: "power_levels." + key},
			{name: key + " lowered from above own", from: 1, to: 12, joinRule: JoinRulePublic, users: u, setup: joined,
				plExtra: above, event: pl(`{` + users + `,"` + key + `":0}`), want: "power_levels." + key},
		})
	}
}

func TestParseLevelRanges(t *testing.T) {
	v1, v6 := matrix.MustRoomVersion("1"), matrix.MustRoomVersion("6")
	cases := []struct {
		v       *matrix.RoomVersion
		in      string
		want    int64
		wantErr bool
	}{
		{v1, `99999999999999999999`, maxLegacyLevel, false},
		{v1, `1e300`, maxLegacyLevel, false},
		{v1, `-1e300`, -1 << 63, false},
		{v1, `"99999999999999999999"`, 0, true},
		{v6, `99999999999999999999`, 0, true},
		{v6, `-9007199254740991`, -9007199254740991, false},
		{v6, `-9007199254740992`, 0, true},
		{v1, `[]`, 0, true},
		{v1, ``, 0, true},
	}
	for _, c := range cases {
		got, err := parseLevel(json.RawMessage(c.in), c.v)
		if (err != nil) != c.wantErr || (!c.wantErr && got != c.want) {
			t.Errorf("parseLevel(%s, v%s) = %d, %v; want %d, error %v", c.in, c.v.ID, got, err, c.want, c.wantErr)
		}
	}
}
