package syncapi_test

import (
	"net/url"
	"testing"
)

// TestInitialSyncDefaultPushRules (issue 11 item 8): an initial /sync of a user who never
// stored m.push_rules (topic 1 carried none) has the server-default rules in account_data;
// incremental syncs do not repeat them; a stored m.push_rules is sent instead, never both;
// the account_data filter applies to the defaults as to a stored event.
func TestInitialSyncDefaultPushRules(t *testing.T) {
	forEachDB(t, func(t *testing.T, h *harness) {
		alice := user("alice")
		h.createRoom(room, alice)
		pushRules := func(s syncResp) []clientEvent {
			var out []clientEvent
			for _, e := range s.AccountData.Events {
				if e.Type == "m.push_rules" {
					out = append(out, e)
				}
			}
			return out
		}
		s := h.sync("alice_tok", "")
		pr := pushRules(s)
		if len(pr) != 1 {
			t.Fatalf("initial sync: %d m.push_rules, want the defaults (%+v)", len(pr), s.AccountData)
		}
		global, _ := pr[0].Content["global"].(map[string]any)
		override, _ := global["override"].([]any)
		content, _ := global["content"].([]any)
		if len(override) == 0 || override[0].(map[string]any)["rule_id"] != ".m.rule.master" ||
			len(content) != 1 || content[0].(map[string]any)["pattern"] != "alice" {
			t.Fatalf("default rules: %v", pr[0].Content)
		}
		for _, k := range []string{"room", "sender", "underride"} {
			if _, ok := global[k].([]any); !ok {
				t.Fatalf("%s is not a list: %v", k, global[k])
			}
		}
		h.msg(room, alice, "hi")
		if inc := h.sync("alice_tok", "since="+s.NextBatch); len(pushRules(inc)) != 0 {
			t.Fatalf("incremental sync repeats the defaults: %+v", inc.AccountData)
		}

		filters := []struct {
			name, filter string
			want         []string // global account data types
		}{
			{"no filter", "", []string{"m.push_rules"}},
			{"not_types", `{"account_data":{"not_types":["m.push_rules"]}}`, nil},
			{"types", `{"account_data":{"types":["m.push_*"]}}`, []string{"m.push_rules"}},
			{"none", `{"account_data":{"types":[]}}`, nil},
		}
		check := func(when string, wantContent string) {
			t.Helper()
			for _, f := range filters {
				q := ""
				if f.filter != "" {
					q = "filter=" + url.QueryEscape(f.filter)
				}
				s := h.sync("alice_tok", q)
				var got []string
				for _, e := range s.AccountData.Events {
					got = append(got, e.Type)
				}
				if len(got) != len(f.want) || (len(got) == 1 && got[0] != f.want[0]) {
					t.Fatalf("%s, %s: account data %v, want %v", when, f.name, got, f.want)
				}
				if pr := pushRules(s); wantContent != "" && len(pr) == 1 && pr[0].Content["mine"] != wantContent {
					t.Fatalf("%s, %s: %v, want the stored rules", when, f.name, pr[0].Content)
				}
			}
		}
		check("nothing stored", "")

		// Stored rules win; the defaults are not added beside them.
		h.accountData(alice, "", "m.push_rules", `{"global":{"override":[]},"mine":"yes"}`)
		check("stored", "yes")
		// Stored rules left out by a limit are not replaced by the defaults either.
		h.accountData(alice, "", "m.direct", `{}`)
		lim := h.sync("alice_tok", "filter="+url.QueryEscape(`{"account_data":{"limit":1}}`))
		if len(lim.AccountData.Events) != 1 || lim.AccountData.Events[0].Type != "m.push_rules" || lim.AccountData.Events[0].Content["mine"] != "yes" {
			t.Fatalf("limit 1: %+v", lim.AccountData)
		}
	})
}
