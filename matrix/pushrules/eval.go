package pushrules

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The evaluator (client-server API, "Push notifications"): a user's Ruleset compiled once
// (Compile) into matchers — globs parsed, keys canonicalised, actions reduced to notify
// and highlight — then evaluated against events (Event, built once per event and shared)
// for that user. The first enabled rule whose conditions all hold decides, in the kinds'
// order override, content, room, sender, underride; no match means no notification.
// Evaluating holds no lock and allocates nothing.

// Room is what the conditions read about the room at the event, the same for every user:
// the joined member count, the sender's power level and the power levels'
// `notifications` levels (nil: the spec's default, 50 for every key).
type Room struct {
	MemberCount        int
	SenderPower        int64
	NotificationLevels map[string]int64
}

// DefaultNotificationLevel is a notifications level the power levels do not set.
const DefaultNotificationLevel = 50

// User is the user the rules are evaluated for: their user ID and display name in the
// room (NewUser lower-cases it once).
type User struct {
	ID               string
	displayNameLower string
}

// NewUser returns the User for userID with displayName ("" for none) in the room.
func NewUser(userID, displayName string) User {
	return User{ID: userID, displayNameLower: strings.ToLower(displayName)}
}

// Result is the outcome for one event and user.
type Result struct {
	Notify, Highlight bool
	// RuleID is the rule that decided ("" when none matched).
	RuleID string
}

type condKind uint8

const (
	condNever condKind = iota // an unknown or malformed condition: matches nothing
	condEventMatch
	condPropertyIs
	condPropertyContains
	condDisplayName
	condMemberCount
	condSenderPermission
)

type compiledCond struct {
	kind  condKind
	key   string // canonical dotted key; sender_notification_permission: the level's key
	field uint8  // fieldType, fieldSender, fieldBody for the keys Event keeps apart
	glob  glob
	val   value
	// room_member_count
	op  string
	num int
}

const (
	fieldMap uint8 = iota
	fieldType
	fieldSender
	fieldBody
)

type compiledRule struct {
	id                string
	conds             []compiledCond
	notify, highlight bool
}

// Compiled is a user's ruleset ready to evaluate; immutable, safe for concurrent use.
type Compiled struct {
	rules []compiledRule
}

// Compile compiles rs (the global scope of a user's m.push_rules) in evaluation order,
// leaving out disabled rules.
func Compile(rs Ruleset) *Compiled {
	c := &Compiled{}
	add := func(r PushRule, conds []compiledCond) {
		notify, highlight := actionsOf(r.Actions)
		c.rules = append(c.rules, compiledRule{id: r.RuleID, conds: conds, notify: notify, highlight: highlight})
	}
	for _, r := range rs.Override {
		if r.Enabled {
			add(r, compileConds(r.Conditions))
		}
	}
	for _, r := range rs.Content {
		if r.Enabled {
			cond := compiledCond{kind: condNever}
			if r.Pattern != nil {
				cond = compiledCond{kind: condEventMatch, key: "content.body", field: fieldBody, glob: compileGlob(*r.Pattern)}
			}
			add(r, []compiledCond{cond})
		}
	}
	for _, r := range rs.Room {
		if r.Enabled {
			add(r, []compiledCond{{kind: condPropertyIs, key: "room_id", val: value{kind: vString, s: r.RuleID}}})
		}
	}
	for _, r := range rs.Sender {
		if r.Enabled {
			add(r, []compiledCond{{kind: condPropertyIs, key: "sender", field: fieldSender, val: value{kind: vString, s: r.RuleID}}})
		}
	}
	for _, r := range rs.Underride {
		if r.Enabled {
			add(r, compileConds(r.Conditions))
		}
	}
	return c
}

// CompileAccountData compiles the content of an m.push_rules account data event, brought
// up to the current server defaults as GET /pushrules shows it (MergeDefaults); nil or
// unreadable content gives userID's server-default rules.
func CompileAccountData(userID string, content []byte) *Compiled {
	if len(content) > 0 {
		var ad AccountData
		if json.Unmarshal(content, &ad) == nil {
			MergeDefaults(&ad.Global, Defaults(userID))
			return Compile(ad.Global)
		}
	}
	return Compile(Defaults(userID))
}

// actionsOf reads a rule's actions: notify (and the legacy coalesce) notify, dont_notify
// or none do not; set_tweak highlight (value true when absent) highlights.
func actionsOf(actions []any) (notify, highlight bool) {
	for _, a := range actions {
		switch t := a.(type) {
		case string:
			if t == "notify" || t == "coalesce" {
				notify = true
			}
		case map[string]any:
			if t["set_tweak"] == "highlight" {
				v, ok := t["value"]
				if !ok {
					highlight = true
				} else if b, isBool := v.(bool); isBool {
					highlight = b
				}
			}
		}
	}
	return notify, highlight
}

func compileConds(conds *[]map[string]any) []compiledCond {
	if conds == nil {
		return nil
	}
	out := make([]compiledCond, 0, len(*conds))
	for _, m := range *conds {
		out = append(out, compileCond(m))
	}
	// Cheap conditions first: a rule fails on the first condition that does not hold, and
	// the body searches are the dearest.
	cost := func(c *compiledCond) int {
		switch {
		case c.kind == condDisplayName || c.field == fieldBody:
			return 2
		case c.kind == condEventMatch && !c.glob.literal:
			return 1
		}
		return 0
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && cost(&out[j]) < cost(&out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func compileCond(m map[string]any) compiledCond {
	kind, _ := m["kind"].(string)
	key, _ := m["key"].(string)
	never := compiledCond{kind: condNever}
	switch kind {
	case "event_match":
		pattern, ok := m["pattern"].(string)
		if !ok || key == "" {
			return never
		}
		return withField(compiledCond{kind: condEventMatch, key: canonicalKey(key), glob: compileGlob(pattern)})
	case "event_property_is", "event_property_contains":
		raw, ok := m["value"]
		if !ok || key == "" {
			return never
		}
		v := valueOf(raw)
		if v.kind == vOther || v.kind == vArray {
			return never // the spec allows only non-compound canonical JSON values
		}
		k := condPropertyIs
		if kind == "event_property_contains" {
			k = condPropertyContains
		}
		return withField(compiledCond{kind: k, key: canonicalKey(key), val: v})
	case "contains_display_name":
		return compiledCond{kind: condDisplayName}
	case "room_member_count":
		is, _ := m["is"].(string)
		op, num, ok := parseMemberCount(is)
		if !ok {
			return never
		}
		return compiledCond{kind: condMemberCount, op: op, num: num}
	case "sender_notification_permission":
		if key == "" {
			return never
		}
		return compiledCond{kind: condSenderPermission, key: key}
	}
	return never
}

// withField points a condition on type, sender or content.body at Event's own fields.
func withField(c compiledCond) compiledCond {
	switch c.key {
	case "type":
		c.field = fieldType
	case "sender":
		c.field = fieldSender
	case "content.body":
		c.field = fieldBody
	}
	return c
}

// parseMemberCount reads room_member_count's `is`: a decimal number, optionally after
// ==, <, >, <= or >= (bare: ==).
func parseMemberCount(is string) (string, int, bool) {
	op := "=="
	for _, p := range []string{"==", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(is, p) {
			op, is = p, is[len(p):]
			break
		}
	}
	n, err := strconv.Atoi(is)
	if err != nil || n < 0 || is == "" || is[0] == '+' {
		return "", 0, false
	}
	return op, n, true
}

// Evaluate returns what c's rules decide for ev for user u in room r.
func (c *Compiled) Evaluate(ev *Event, r *Room, u *User) Result {
	for i := range c.rules {
		rule := &c.rules[i]
		if rule.matches(ev, r, u) {
			return Result{Notify: rule.notify, Highlight: rule.notify && rule.highlight, RuleID: rule.id}
		}
	}
	return Result{}
}

func (rule *compiledRule) matches(ev *Event, r *Room, u *User) bool {
	for i := range rule.conds {
		if !rule.conds[i].holds(ev, r, u) {
			return false
		}
	}
	return true
}

// lookup returns the condition's key's value in ev.
func (cd *compiledCond) lookup(ev *Event) (value, bool) {
	switch cd.field {
	case fieldType:
		return value{kind: vString, s: ev.typ, lower: ev.typLower}, ev.typ != ""
	case fieldSender:
		return value{kind: vString, s: ev.sender, lower: ev.senderLower}, ev.sender != ""
	case fieldBody:
		return value{kind: vString, s: ev.body, lower: ev.bodyLower}, ev.hasBody
	}
	v, ok := ev.values[cd.key]
	return v, ok
}

func (cd *compiledCond) holds(ev *Event, r *Room, u *User) bool {
	switch cd.kind {
	case condEventMatch:
		v, ok := cd.lookup(ev)
		if !ok || v.kind != vString {
			return false
		}
		if cd.field == fieldBody {
			return cd.glob.matchWords(v.lower)
		}
		return cd.glob.matchWhole(v.lower)
	case condPropertyIs:
		v, ok := cd.lookup(ev)
		return ok && v.equal(&cd.val)
	case condPropertyContains:
		v, ok := cd.lookup(ev)
		if !ok || v.kind != vArray {
			return false
		}
		for i := range v.arr {
			if v.arr[i].equal(&cd.val) {
				return true
			}
		}
		return false
	case condDisplayName:
		return ev.hasBody && containsWord(ev.bodyLower, u.displayNameLower)
	case condMemberCount:
		n := r.MemberCount
		switch cd.op {
		case "<":
			return n < cd.num
		case ">":
			return n > cd.num
		case "<=":
			return n <= cd.num
		case ">=":
			return n >= cd.num
		}
		return n == cd.num
	case condSenderPermission:
		level, ok := r.NotificationLevels[cd.key]
		if !ok {
			level = DefaultNotificationLevel
		}
		return r.SenderPower >= level
	}
	return false
}
