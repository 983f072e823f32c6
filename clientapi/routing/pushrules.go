package routing

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/matrix/pushrules"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// loadPushRules returns the user's push rules: the stored m.push_rules account data
// brought up to the current server defaults (pushrules.MergeDefaults), or the defaults for a
// user who has none stored yet. The merged set is stored with the user's next change.
func (rt *Routes) loadPushRules(ctx context.Context, userID string) (*pushrules.AccountData, error) {
	raw, err := rt.userAPI.GetAccountData(ctx, userID, "", "m.push_rules")
	if err != nil {
		if me := httputil.AsMatrixError(err); me.ErrCode == "M_NOT_FOUND" {
			return &pushrules.AccountData{Global: pushrules.Defaults(userID)}, nil
		}
		return nil, err
	}
	var c pushrules.AccountData
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	c.Global.NonNil() // never send null lists
	pushrules.MergeDefaults(&c.Global, pushrules.Defaults(userID))
	return &c, nil
}

// savePushRules stores the rules as m.push_rules global account data; the userapi puts
// the change on topic 1, so every /sync sees it.
func (rt *Routes) savePushRules(ctx context.Context, userID string, c *pushrules.AccountData) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return rt.userAPI.SetAccountData(ctx, &userapi.AccountData{UserID: userID, Type: "m.push_rules", Content: raw})
}

// seedPushRules stores a new account's default rules as account data, so its first /sync
// carries them. A failure is only logged: the account exists already, and the push rules
// endpoints serve the defaults for a user with none stored.
func (rt *Routes) seedPushRules(ctx context.Context, userID string) {
	if err := rt.savePushRules(ctx, userID, &pushrules.AccountData{Global: pushrules.Defaults(userID)}); err != nil {
		setup.LoggerFrom(ctx).WithError(err).WithField("user_id", userID).Warn("storing default push rules failed")
	}
}

// getAllPushRules serves GET /pushrules/.
func (rt *Routes) getAllPushRules(r *http.Request, dev *userapi.Device) (any, error) {
	return rt.loadPushRules(r.Context(), dev.UserID)
}

func checkScope(r *http.Request) error {
	if s := mux.Vars(r)["scope"]; s != "global" {
		return httputil.InvalidParam("Unknown push rule scope %q: only global is supported", s)
	}
	return nil
}

// getPushRuleScope serves GET /pushrules/global/.
func (rt *Routes) getPushRuleScope(r *http.Request, dev *userapi.Device) (any, error) {
	if err := checkScope(r); err != nil {
		return nil, err
	}
	c, err := rt.loadPushRules(r.Context(), dev.UserID)
	if err != nil {
		return nil, err
	}
	return c.Global, nil
}

// findRule locates the rule the path names: the loaded rules, the kind's list and the index.
func (rt *Routes) findRule(r *http.Request, dev *userapi.Device) (*pushrules.AccountData, *[]pushrules.PushRule, int, error) {
	if err := checkScope(r); err != nil {
		return nil, nil, 0, err
	}
	v := mux.Vars(r)
	c, err := rt.loadPushRules(r.Context(), dev.UserID)
	if err != nil {
		return nil, nil, 0, err
	}
	list := c.Global.Kind(v["kind"])
	if list == nil {
		return nil, nil, 0, httputil.InvalidParam("Unknown push rule kind %q", v["kind"])
	}
	for i := range *list {
		if (*list)[i].RuleID == v["ruleId"] {
			return c, list, i, nil
		}
	}
	return c, list, -1, nil
}

// getPushRule serves GET /pushrules/global/{kind}/{ruleId}.
func (rt *Routes) getPushRule(r *http.Request, dev *userapi.Device) (any, error) {
	_, list, i, err := rt.findRule(r, dev)
	if err != nil {
		return nil, err
	}
	if i < 0 {
		return nil, httputil.NotFound("Unknown push rule")
	}
	return (*list)[i], nil
}

// validActions checks a push rule's actions: "notify", the legacy "dont_notify" and
// "coalesce", or {"set_tweak": …} objects.
func validActions(actions []any) error {
	for _, a := range actions {
		switch v := a.(type) {
		case string:
			if v != "notify" && v != "dont_notify" && v != "coalesce" {
				return httputil.InvalidParam("Unknown action %q", v)
			}
		case map[string]any:
			if _, ok := v["set_tweak"].(string); !ok {
				return httputil.InvalidParam("An action object needs a set_tweak string")
			}
		default:
			return httputil.InvalidParam("Actions are strings or set_tweak objects")
		}
	}
	return nil
}

// putPushRule serves PUT /pushrules/global/{kind}/{ruleId}: create or update a user rule,
// placed by the before/after query parameters (else kept in place, or put first among
// the kind's rules after .m.rule.master).
func (rt *Routes) putPushRule(r *http.Request, dev *userapi.Device) (any, error) {
	var req struct {
		Actions    *[]any            `json:"actions"`
		Conditions *[]map[string]any `json:"conditions"`
		Pattern    *string           `json:"pattern"`
	}
	if err := readJSON(r, contentLimit, &req); err != nil {
		return nil, err
	}
	defer rt.lockUser(dev.UserID)()
	c, list, i, err := rt.findRule(r, dev)
	if err != nil {
		return nil, err
	}
	v := mux.Vars(r)
	kind, ruleID := v["kind"], v["ruleId"]
	if strings.HasPrefix(ruleID, ".") {
		return nil, httputil.InvalidParam("Rule IDs starting with '.' are reserved for server-default rules")
	}
	if ruleID == "" || strings.Contains(ruleID, "/") || strings.Contains(ruleID, `\`) {
		return nil, httputil.InvalidParam("Invalid rule ID")
	}
	if req.Actions == nil {
		return nil, httputil.MissingParam("Missing actions")
	}
	if err := validActions(*req.Actions); err != nil {
		return nil, err
	}
	rule := pushrules.PushRule{RuleID: ruleID, Enabled: true, Actions: *req.Actions}
	switch kind {
	case "content":
		if req.Pattern == nil || *req.Pattern == "" {
			return nil, httputil.MissingParam("Content rules need a pattern")
		}
		rule.Pattern = req.Pattern
	case "override", "underride":
		rule.Conditions = req.Conditions
		if rule.Conditions == nil {
			rule.Conditions = &[]map[string]any{}
		}
		for _, cd := range *rule.Conditions {
			if _, ok := cd["kind"].(string); !ok {
				return nil, httputil.InvalidParam("Every condition needs a kind")
			}
		}
	case "room":
		if err := checkRoomID(ruleID); err != nil {
			return nil, err
		}
	case "sender":
		if _, _, err := parseUserID(ruleID); err != nil {
			return nil, err
		}
	}
	before, after := r.URL.Query().Get("before"), r.URL.Query().Get("after")
	if i >= 0 {
		rule.Enabled = (*list)[i].Enabled
		*list = append((*list)[:i], (*list)[i+1:]...)
		if before == "" && after == "" {
			*list = insertRule(*list, i, rule)
			return empty, rt.savePushRules(r.Context(), dev.UserID, c)
		}
	}
	pos := 0
	if kind == "override" && len(*list) > 0 && (*list)[0].RuleID == ".m.rule.master" {
		pos = 1
	}
	anchor, isAfter := before, false
	if anchor == "" {
		anchor, isAfter = after, true
	}
	if anchor != "" {
		pos = -1
		for j := range *list {
			if (*list)[j].RuleID == anchor {
				pos = j
				if isAfter {
					pos = j + 1
				}
			}
		}
		if pos < 0 {
			return nil, httputil.Unknown("before/after rule not found: %s", anchor)
		}
	}
	*list = insertRule(*list, pos, rule)
	return empty, rt.savePushRules(r.Context(), dev.UserID, c)
}

func insertRule(list []pushrules.PushRule, i int, rule pushrules.PushRule) []pushrules.PushRule {
	list = append(list, pushrules.PushRule{})
	copy(list[i+1:], list[i:])
	list[i] = rule
	return list
}

// deletePushRule serves DELETE /pushrules/global/{kind}/{ruleId}; default rules stay.
func (rt *Routes) deletePushRule(r *http.Request, dev *userapi.Device) (any, error) {
	defer rt.lockUser(dev.UserID)()
	c, list, i, err := rt.findRule(r, dev)
	if err != nil {
		return nil, err
	}
	if i < 0 {
		return nil, httputil.NotFound("Unknown push rule")
	}
	if (*list)[i].Default {
		return nil, httputil.InvalidParam("Server-default rules cannot be deleted")
	}
	*list = append((*list)[:i], (*list)[i+1:]...)
	return empty, rt.savePushRules(r.Context(), dev.UserID, c)
}

// getPushRuleAttr serves GET …/{ruleId}/enabled and …/actions.
func (rt *Routes) getPushRuleAttr(attr string) handlerFunc {
	return func(r *http.Request, dev *userapi.Device) (any, error) {
		_, list, i, err := rt.findRule(r, dev)
		if err != nil {
			return nil, err
		}
		if i < 0 {
			return nil, httputil.NotFound("Unknown push rule")
		}
		if attr == "enabled" {
			return map[string]bool{"enabled": (*list)[i].Enabled}, nil
		}
		return map[string][]any{"actions": (*list)[i].Actions}, nil
	}
}

// putPushRuleAttr serves PUT …/{ruleId}/enabled and …/actions (default rules included).
func (rt *Routes) putPushRuleAttr(attr string) handlerFunc {
	return func(r *http.Request, dev *userapi.Device) (any, error) {
		var req struct {
			Enabled *bool  `json:"enabled"`
			Actions *[]any `json:"actions"`
		}
		if err := readJSON(r, contentLimit, &req); err != nil {
			return nil, err
		}
		defer rt.lockUser(dev.UserID)()
		c, list, i, err := rt.findRule(r, dev)
		if err != nil {
			return nil, err
		}
		if i < 0 {
			return nil, httputil.NotFound("Unknown push rule")
		}
		if attr == "enabled" {
			if req.Enabled == nil {
				return nil, httputil.MissingParam("Missing enabled")
			}
			(*list)[i].Enabled = *req.Enabled
		} else {
			if req.Actions == nil {
				return nil, httputil.MissingParam("Missing actions")
			}
			if err := validActions(*req.Actions); err != nil {
				return nil, err
			}
			(*list)[i].Actions = *req.Actions
		}
		return empty, rt.savePushRules(r.Context(), dev.UserID, c)
	}
}
