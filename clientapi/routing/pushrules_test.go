package routing

import (
	"fmt"
	"testing"
)

func ruleIDs(list []any) []string {
	var out []string
	for _, r := range list {
		out = append(out, r.(map[string]any)["rule_id"].(string))
	}
	return out
}

func TestPushRulesAPI(t *testing.T) { forEachImpl(t, testPushRulesAPI) }

func testPushRulesAPI(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	const base = "/_matrix/client/v3/pushrules"

	r := h.must(h.do("GET", base+"/", alice.token, nil), 200)
	global := r.body["global"].(map[string]any)
	if len(global["override"].([]any)) != 12 || len(global["underride"].([]any)) != 5 || global["room"] == nil {
		t.Fatalf("rules = %s", r.raw)
	}
	h.must(h.do("GET", base+"/global/", alice.token, nil), 200)
	if r := h.must(h.do("GET", base+"/global/override/.m.rule.master", alice.token, nil), 200); r.body["enabled"] != false {
		t.Fatalf("master = %s", r.raw)
	}

	// Create user rules and place them.
	h.must(h.do("PUT", base+"/global/content/cats", alice.token, map[string]any{"actions": []any{"notify"}, "pattern": "cat*"}), 200)
	h.must(h.do("PUT", base+"/global/override/first", alice.token, map[string]any{"actions": []any{"notify"},
		"conditions": []any{map[string]any{"kind": "event_match", "key": "type", "pattern": "m.x"}}}), 200)
	h.must(h.do("PUT", base+"/global/override/second?after=first", alice.token, map[string]any{"actions": []any{}}), 200)
	h.must(h.do("PUT", base+"/global/override/zeroth?before=first", alice.token, map[string]any{"actions": []any{map[string]any{"set_tweak": "sound", "value": "default"}}}), 200)
	h.must(h.do("PUT", base+"/global/room/!room:test.local", alice.token, map[string]any{"actions": []any{}}), 200)
	h.must(h.do("PUT", base+"/global/sender/@bob:test.local", alice.token, map[string]any{"actions": []any{"notify"}}), 200)
	r = h.must(h.do("GET", base+"/global/", alice.token, nil), 200)
	ids := ruleIDs(r.body["override"].([]any))
	if ids[0] != ".m.rule.master" || ids[1] != "zeroth" || ids[2] != "first" || ids[3] != "second" {
		t.Fatalf("override order = %v", ids)
	}
	if got := ruleIDs(r.body["content"].([]any)); got[0] != "cats" {
		t.Fatalf("content = %v", got)
	}
	// The rules are the m.push_rules account data /sync sees.
	if ad := h.must(h.do("GET", "/_matrix/client/v3/user/"+alice.id+"/account_data/m.push_rules", alice.token, nil), 200); len(ruleIDs(ad.body["global"].(map[string]any)["override"].([]any))) != 15 {
		t.Fatalf("account data = %s", ad.raw)
	}

	// enabled / actions, on default and user rules.
	h.must(h.do("PUT", base+"/global/override/.m.rule.master/enabled", alice.token, map[string]any{"enabled": true}), 200)
	if r := h.must(h.do("GET", base+"/global/override/.m.rule.master/enabled", alice.token, nil), 200); r.body["enabled"] != true {
		t.Fatalf("enabled = %s", r.raw)
	}
	h.must(h.do("PUT", base+"/global/underride/.m.rule.message/actions", alice.token, map[string]any{"actions": []any{}}), 200)
	if r := h.must(h.do("GET", base+"/global/underride/.m.rule.message/actions", alice.token, nil), 200); len(r.body["actions"].([]any)) != 0 {
		t.Fatalf("actions = %s", r.raw)
	}
	h.must(h.do("DELETE", base+"/global/override/first", alice.token, nil), 200)
	h.must(h.do("GET", base+"/global/override/first", alice.token, nil), 404, "M_NOT_FOUND")

	bad := []struct {
		name, method, path string
		body               any
		status             int
		errcode            string
	}{
		{"unknown scope", "GET", base + "/device/", nil, 400, "M_INVALID_PARAM"},
		{"unknown kind", "GET", base + "/global/weird/x", nil, 400, "M_INVALID_PARAM"},
		{"unknown rule", "GET", base + "/global/override/nope", nil, 404, "M_NOT_FOUND"},
		{"reserved id", "PUT", base + "/global/override/.m.rule.mine", map[string]any{"actions": []any{}}, 400, "M_INVALID_PARAM"},
		{"missing actions", "PUT", base + "/global/override/x", map[string]any{}, 400, "M_MISSING_PARAM"},
		{"actions wrong type", "PUT", base + "/global/override/x", map[string]any{"actions": "notify"}, 400, "M_BAD_JSON"},
		{"unknown action", "PUT", base + "/global/override/x", map[string]any{"actions": []any{"explode"}}, 400, "M_INVALID_PARAM"},
		{"content without pattern", "PUT", base + "/global/content/x", map[string]any{"actions": []any{}}, 400, "M_MISSING_PARAM"},
		{"condition without kind", "PUT", base + "/global/override/x", map[string]any{"actions": []any{}, "conditions": []any{map[string]any{}}}, 400, "M_INVALID_PARAM"},
		{"before unknown", "PUT", base + "/global/override/x?before=nope", map[string]any{"actions": []any{}}, 400, "M_UNKNOWN"},
		{"room rule bad id", "PUT", base + "/global/room/notaroom", map[string]any{"actions": []any{}}, 400, "M_INVALID_PARAM"},
		{"delete default", "DELETE", base + "/global/override/.m.rule.master", nil, 400, "M_INVALID_PARAM"},
		{"delete unknown", "DELETE", base + "/global/override/nope", nil, 404, "M_NOT_FOUND"},
		{"enabled wrong type", "PUT", base + "/global/override/.m.rule.master/enabled", map[string]any{"enabled": "yes"}, 400, "M_BAD_JSON"},
		{"enabled missing", "PUT", base + "/global/override/.m.rule.master/enabled", map[string]any{}, 400, "M_MISSING_PARAM"},
		{"enabled unknown rule", "PUT", base + "/global/override/nope/enabled", map[string]any{"enabled": true}, 404, "M_NOT_FOUND"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, alice.token, c.body), c.status, c.errcode)
		})
	}
	if _, err := h.userAPI.GetAccountData(t.Context(), alice.id, "", "m.push_rules"); err != nil {
		t.Fatal(err)
	}
	r = h.must(h.do("GET", base+"/global/", alice.token, nil), 200)
	if ids := ruleIDs(r.body["override"].([]any)); len(ids) != 14 || contains(ids, "x") {
		t.Fatalf("a rejected request changed the rules: %v", ids)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestPushRulesConcurrentWrites: concurrent rule changes of one user are not lost.
func TestPushRulesConcurrentWrites(t *testing.T) { forEachImpl(t, testPushRulesConcurrentWrites) }

func testPushRulesConcurrentWrites(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	const n = 10
	errs := make(chan resp, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			errs <- h.do("PUT", fmt.Sprintf("/_matrix/client/v3/pushrules/global/content/r%d", i), alice.token,
				map[string]any{"actions": []any{"notify"}, "pattern": "p"})
		}(i)
	}
	for i := 0; i < n; i++ {
		if r := <-errs; r.status != 200 {
			t.Fatalf("PUT: %d %s", r.status, r.raw)
		}
	}
	r := h.must(h.do("GET", "/_matrix/client/v3/pushrules/global/", alice.token, nil), 200)
	if got := len(r.body["content"].([]any)); got != n+1 {
		t.Fatalf("%d content rules, want %d", got, n+1)
	}
}
