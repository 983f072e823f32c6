package routing

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix/pushrules"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

// ids lists a kind's rule IDs, with "-" after a disabled rule.
func ids(list []pushrules.PushRule) string {
	var out []string
	for _, r := range list {
		id := r.RuleID
		if !r.Enabled {
			id += "-"
		}
		out = append(out, id)
	}
	return strings.Join(out, " ")
}

func TestMergeDefaultRules(t *testing.T) {
	def := func(id string) pushrules.PushRule {
		return pushrules.PushRule{RuleID: id, Default: true, Enabled: true, Actions: []any{}}
	}
	user := func(id string) pushrules.PushRule {
		return pushrules.PushRule{RuleID: id, Enabled: true, Actions: []any{"notify"}}
	}
	off := func(r pushrules.PushRule) pushrules.PushRule { r.Enabled = false; return r }
	defaults := []pushrules.PushRule{def(".m.rule.master"), def(".m.rule.reaction"), def(".m.rule.room.server_acl"), def(".m.rule.suppress_edits")}
	cases := []struct {
		name    string
		stored  []pushrules.PushRule
		want    string
		changed bool
	}{
		{"up to date", defaults, ".m.rule.master .m.rule.reaction .m.rule.room.server_acl .m.rule.suppress_edits", false},
		{"old server_acl name, user's flag carried over",
			[]pushrules.PushRule{def(".m.rule.master"), user("mine"), def(".m.rule.reaction"), off(def(".m.rule.server_acl")), def(".m.rule.suppress_edits")},
			".m.rule.master mine .m.rule.reaction .m.rule.room.server_acl- .m.rule.suppress_edits", true},
		{"missing defaults go after their predecessor, user rules stay",
			[]pushrules.PushRule{user("a"), off(def(".m.rule.reaction")), user("b")},
			"a .m.rule.master .m.rule.reaction- .m.rule.room.server_acl .m.rule.suppress_edits b", true},
		{"a default the server no longer has is dropped",
			[]pushrules.PushRule{def(".m.rule.master"), def(".m.rule.gone"), def(".m.rule.reaction"), def(".m.rule.room.server_acl"), def(".m.rule.suppress_edits")},
			".m.rule.master .m.rule.reaction .m.rule.room.server_acl .m.rule.suppress_edits", true},
		{"only user rules", []pushrules.PushRule{user("x")}, "x .m.rule.master .m.rule.reaction .m.rule.room.server_acl .m.rule.suppress_edits", true},
		{"a user rule named like a retired default is kept", []pushrules.PushRule{user(".m.rule.server_acl")},
			".m.rule.server_acl .m.rule.master .m.rule.reaction .m.rule.room.server_acl .m.rule.suppress_edits", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := pushrules.Ruleset{Override: append([]pushrules.PushRule{}, c.stored...)}
			changed := mergeDefaultRules(&rs, pushrules.Ruleset{Override: defaults})
			if got := ids(rs.Override); got != c.want || changed != c.changed {
				t.Fatalf("got %q changed=%v, want %q changed=%v", got, changed, c.want, c.changed)
			}
		})
	}
	// The carried-over rule keeps the user's actions too.
	old := def(".m.rule.server_acl")
	old.Actions = []any{"notify"}
	rs := pushrules.Ruleset{Override: []pushrules.PushRule{old}}
	mergeDefaultRules(&rs, pushrules.Ruleset{Override: defaults})
	if !reflect.DeepEqual(rs.Override[2].Actions, []any{"notify"}) {
		t.Fatalf("actions not carried over: %+v", rs.Override[2])
	}
}

// A user whose stored rules predate .m.rule.room.server_acl (Axon stored it as
// .m.rule.server_acl) sees the spec's rule through the API and the account data, and the
// next change stores the merged set (topic 1 then carries it to /sync).
func TestStoredPushRulesGetCurrentDefaults(t *testing.T) {
	forEachImpl(t, testStoredPushRulesGetCurrentDefaults)
}

func testStoredPushRulesGetCurrentDefaults(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	old := pushrules.Defaults(alice.id)
	for i, r := range old.Override {
		if r.RuleID == ".m.rule.room.server_acl" {
			old.Override[i].RuleID, old.Override[i].Enabled = ".m.rule.server_acl", false
		}
	}
	raw, _ := json.Marshal(pushrules.AccountData{Global: old})
	if err := h.userAPI.SetAccountData(t.Context(), &uapi.AccountData{UserID: alice.id, Type: "m.push_rules", Content: raw}); err != nil {
		t.Fatal(err)
	}
	const base = "/_matrix/client/v3/pushrules"
	r := h.must(h.do("GET", base+"/global/override/.m.rule.room.server_acl", alice.token, nil), 200)
	if r.body["enabled"] != false {
		t.Fatalf("the user's disabled flag was not carried over: %s", r.raw)
	}
	h.must(h.do("GET", base+"/global/override/.m.rule.server_acl", alice.token, nil), 404, "M_NOT_FOUND")
	ad := h.must(h.do("GET", "/_matrix/client/v3/user/"+alice.id+"/account_data/m.push_rules", alice.token, nil), 200)
	if got := ruleIDs(ad.body["global"].(map[string]any)["override"].([]any)); got[10] != ".m.rule.room.server_acl" || len(got) != 12 {
		t.Fatalf("account data override rules = %v", got)
	}
	h.must(h.do("PUT", base+"/global/override/.m.rule.master/enabled", alice.token, map[string]any{"enabled": true}), 200)
	stored, err := h.userAPI.GetAccountData(t.Context(), alice.id, "", "m.push_rules")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored), `".m.rule.room.server_acl"`) || strings.Contains(string(stored), `".m.rule.server_acl"`) {
		t.Fatalf("stored rules after a change: %s", stored)
	}
}
