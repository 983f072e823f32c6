// Package pushrules holds the client-server API's push rule objects (PushRule, Ruleset,
// the content of the m.push_rules account data event) and the spec's predefined
// (server-default) rules, which every user has until they change them. The clientapi
// serves and edits them (/pushrules); the syncapi sends the defaults in an initial /sync
// to a user who never stored any. The evaluator (eval.go, event.go, glob.go) decides
// whether an event notifies and highlights for a user; the syncapi counts unread
// notifications with it.
package pushrules

import "encoding/json"

// PushRule is one push rule as the spec's PushRule object.
type PushRule struct {
	RuleID     string            `json:"rule_id"`
	Default    bool              `json:"default"`
	Enabled    bool              `json:"enabled"`
	Actions    []any             `json:"actions"`
	Conditions *[]map[string]any `json:"conditions,omitempty"`
	Pattern    *string           `json:"pattern,omitempty"`
}

// Ruleset is the spec's Ruleset: the rules of one scope, by kind.
type Ruleset struct {
	Content   []PushRule `json:"content"`
	Override  []PushRule `json:"override"`
	Room      []PushRule `json:"room"`
	Sender    []PushRule `json:"sender"`
	Underride []PushRule `json:"underride"`
}

// AccountData is the content of the m.push_rules account data event: the global scope
// (the only one the spec defines).
type AccountData struct {
	Global Ruleset `json:"global"`
}

// Kinds are the rule kinds in evaluation order.
var Kinds = []string{"override", "content", "room", "sender", "underride"}

// Kind returns a pointer to the rules of one kind, or nil for an unknown kind.
func (rs *Ruleset) Kind(k string) *[]PushRule {
	switch k {
	case "override":
		return &rs.Override
	case "content":
		return &rs.Content
	case "room":
		return &rs.Room
	case "sender":
		return &rs.Sender
	case "underride":
		return &rs.Underride
	}
	return nil
}

// NonNil replaces every absent (nil) kind list by an empty one, so the JSON never carries
// null where the spec has a list.
func (rs *Ruleset) NonNil() {
	for _, k := range Kinds {
		if l := rs.Kind(k); *l == nil {
			*l = []PushRule{}
		}
	}
}

// DefaultAccountDataJSON is the m.push_rules account data content holding userID's
// server-default rules, as JSON.
func DefaultAccountDataJSON(userID string) json.RawMessage {
	raw, err := json.Marshal(AccountData{Global: Defaults(userID)})
	if err != nil {
		panic(err) // only maps, slices, strings and bools: cannot fail
	}
	return raw
}
