package routing

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix/pushrules"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

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
