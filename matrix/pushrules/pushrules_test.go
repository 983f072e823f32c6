package pushrules

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestDefaults(t *testing.T) {
	rs := Defaults("@a:b")
	want := map[string][]string{
		"override": {".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me", ".m.rule.member_event",
			".m.rule.is_user_mention", ".m.rule.contains_display_name", ".m.rule.is_room_mention", ".m.rule.roomnotif",
			".m.rule.tombstone", ".m.rule.reaction", ".m.rule.room.server_acl", ".m.rule.suppress_edits"},
		"content":   {".m.rule.contains_user_name"},
		"underride": {".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message", ".m.rule.encrypted"},
		"room":      nil,
		"sender":    nil,
	}
	for kind, ids := range want {
		list := *rs.Kind(kind)
		if len(list) != len(ids) {
			t.Fatalf("%s: %d rules, want %d", kind, len(list), len(ids))
		}
		for i, r := range list {
			if r.RuleID != ids[i] || !r.Default || r.Actions == nil {
				t.Fatalf("%s[%d] = %+v, want %s", kind, i, r, ids[i])
			}
			if (kind == "override" || kind == "underride") && r.Conditions == nil {
				t.Fatalf("%s has no conditions", r.RuleID)
			}
			wantEnabled := r.RuleID != ".m.rule.master"
			if r.Enabled != wantEnabled {
				t.Fatalf("%s enabled = %v", r.RuleID, r.Enabled)
			}
		}
	}
	// The user's own ID appears in the rules that are about them.
	invite := rs.Override[2]
	if (*invite.Conditions)[2]["pattern"] != "@a:b" || *rs.Content[0].Pattern != "a" {
		t.Fatalf("user-specific rules not filled in: %+v", invite)
	}
}

// TestDefaultAccountDataJSON: the m.push_rules content is {"global": the defaults}, every
// kind a list (never null), and a user ID that does not parse still gets rules.
func TestDefaultAccountDataJSON(t *testing.T) {
	for _, userID := range []string{"@alice:example.org", "not-a-user-id"} {
		var got map[string]map[string]any
		if err := json.Unmarshal(DefaultAccountDataJSON(userID), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got["global"] == nil {
			t.Fatalf("%s: top-level keys %v", userID, got)
		}
		for _, k := range Kinds {
			if _, ok := got["global"][k].([]any); !ok {
				t.Fatalf("%s: %s is %T, want a list", userID, k, got["global"][k])
			}
		}
		var back AccountData
		_ = json.Unmarshal(DefaultAccountDataJSON(userID), &back)
		want := Defaults(userID)
		if !reflect.DeepEqual(ruleIDsOf(back.Global), ruleIDsOf(want)) {
			t.Fatalf("%s: rules %v, want %v", userID, ruleIDsOf(back.Global), ruleIDsOf(want))
		}
	}
	if *Defaults("@alice:example.org").Content[0].Pattern != "alice" {
		t.Fatal("contains_user_name does not match the localpart")
	}
}

// TestNonNil: absent kinds become empty lists, present ones are kept.
func TestNonNil(t *testing.T) {
	rs := Ruleset{Override: []PushRule{{RuleID: "x"}}}
	rs.NonNil()
	for _, k := range Kinds {
		if *rs.Kind(k) == nil {
			t.Fatalf("%s still nil", k)
		}
	}
	if len(rs.Override) != 1 || rs.Kind("nope") != nil {
		t.Fatalf("NonNil changed rules: %+v", rs)
	}
}

func ruleIDsOf(rs Ruleset) map[string][]string {
	out := map[string][]string{}
	for _, k := range Kinds {
		for _, r := range *rs.Kind(k) {
			out[k] = append(out[k], r.RuleID)
		}
	}
	return out
}
