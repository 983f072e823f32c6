package pushrules

import (
	"reflect"
	"strings"
	"testing"
)

// ids lists a kind's rule IDs, with "-" after a disabled rule.
func ids(list []PushRule) string {
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
	def := func(id string) PushRule {
		return PushRule{RuleID: id, Default: true, Enabled: true, Actions: []any{}}
	}
	user := func(id string) PushRule {
		return PushRule{RuleID: id, Enabled: true, Actions: []any{"notify"}}
	}
	off := func(r PushRule) PushRule { r.Enabled = false; return r }
	defaults := []PushRule{def(".m.rule.master"), def(".m.rule.reaction"), def(".m.rule.room.server_acl"), def(".m.rule.suppress_edits")}
	cases := []struct {
		name    string
		stored  []PushRule
		want    string
		changed bool
	}{
		{"up to date", defaults, ".m.rule.master .m.rule.reaction .m.rule.room.server_acl .m.rule.suppress_edits", false},
		{"old server_acl name, user's flag carried over",
			[]PushRule{def(".m.rule.master"), user("mine"), def(".m.rule.reaction"), off(def(".m.rule.server_acl")), def(".m.rule.suppress_edits")},
			".m.rule.master mine .m.rule.reaction .m.rule.room.server_acl- .m.rule.suppress_edits", true},
		{"missing defaults go after their predecessor, user rules stay",
			[]PushRule{user("a"), off(def(".m.rule.reaction")), user("b")},
			"a .m.rule.master .m.rule.reaction- .m.rule.room.server_acl .m.rule.suppress_edits b", true},
		{"a default the server no longer has is dropped",
			[]PushRule{def(".m.rule.master"), def(".m.rule.gone"), def(".m.rule.reaction"), def(".m.rule.room.server_acl"), def(".m.rule.suppress_edits")},
			".m.rule.master .m.rule.reaction .m.rule.room.server_acl .m.rule.suppress_edits", true},
		{"only user rules", []PushRule{user("x")}, "x .m.rule.master .m.rule.reaction .m.rule.room.server_acl .m.rule.suppress_edits", true},
		{"a user rule named like a retired default is kept", []PushRule{user(".m.rule.server_acl")},
			".m.rule.server_acl .m.rule.master .m.rule.reaction .m.rule.room.server_acl .m.rule.suppress_edits", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := Ruleset{Override: append([]PushRule{}, c.stored...)}
			changed := MergeDefaults(&rs, Ruleset{Override: defaults})
			if got := ids(rs.Override); got != c.want || changed != c.changed {
				t.Fatalf("got %q changed=%v, want %q changed=%v", got, changed, c.want, c.changed)
			}
		})
	}
	// The carried-over rule keeps the user's actions too.
	old := def(".m.rule.server_acl")
	old.Actions = []any{"notify"}
	rs := Ruleset{Override: []PushRule{old}}
	MergeDefaults(&rs, Ruleset{Override: defaults})
	if !reflect.DeepEqual(rs.Override[2].Actions, []any{"notify"}) {
		t.Fatalf("actions not carried over: %+v", rs.Override[2])
	}
}
