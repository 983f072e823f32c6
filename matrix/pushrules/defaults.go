package pushrules

import "github.com/axon-matrix/axon/matrix"

// The spec's predefined (server-default) push rules, client-server API "Predefined
// Rules", in the spec's order. Every user gets them; Element does not start without them.

func cond(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func eventMatch(key, pattern string) map[string]any {
	return cond("kind", "event_match", "key", key, "pattern", pattern)
}

func conds(c ...map[string]any) *[]map[string]any {
	if c == nil {
		c = []map[string]any{}
	}
	return &c
}

func tweak(name string, value any) map[string]any {
	if value == nil {
		return map[string]any{"set_tweak": name}
	}
	return map[string]any{"set_tweak": name, "value": value}
}

func defaultRule(id string, enabled bool, c *[]map[string]any, actions ...any) PushRule {
	if actions == nil {
		actions = []any{}
	}
	return PushRule{RuleID: id, Default: true, Enabled: enabled, Conditions: c, Actions: actions}
}

// Defaults returns the server-default rules for userID (a full user ID; the content rule
// .m.rule.contains_user_name matches its localpart). Each call returns fresh values the
// caller may change.
func Defaults(userID string) Ruleset {
	localpart, _, err := matrix.ParseUserID(userID)
	if err != nil {
		localpart = userID
	}
	soundDefault := tweak("sound", "default")
	highlight := tweak("highlight", nil)
	noHighlight := tweak("highlight", false)
	pattern := localpart
	return Ruleset{
		Override: []PushRule{
			defaultRule(".m.rule.master", false, conds()),
			defaultRule(".m.rule.suppress_notices", true, conds(eventMatch("content.msgtype", "m.notice"))),
			defaultRule(".m.rule.invite_for_me", true, conds(eventMatch("type", "m.room.member"),
				eventMatch("content.membership", "invite"), eventMatch("state_key", userID)),
				"notify", soundDefault, noHighlight),
			defaultRule(".m.rule.member_event", true, conds(eventMatch("type", "m.room.member"))),
			defaultRule(".m.rule.is_user_mention", true, conds(cond("kind", "event_property_contains",
				"key", `content.m\.mentions.user_ids`, "value", userID)), "notify", soundDefault, highlight),
			defaultRule(".m.rule.contains_display_name", true, conds(cond("kind", "contains_display_name")),
				"notify", soundDefault, highlight),
			defaultRule(".m.rule.is_room_mention", true, conds(
				cond("kind", "event_property_is", "key", `content.m\.mentions.room`, "value", true),
				cond("kind", "sender_notification_permission", "key", "room")), "notify", highlight),
			defaultRule(".m.rule.roomnotif", true, conds(cond("kind", "sender_notification_permission", "key", "room"),
				eventMatch("content.body", "@room")), "notify", highlight),
			defaultRule(".m.rule.tombstone", true, conds(eventMatch("type", "m.room.tombstone"),
				eventMatch("state_key", "")), "notify", highlight),
			defaultRule(".m.rule.reaction", true, conds(eventMatch("type", "m.reaction"))),
			// Spec v1.4 (MSC3786): server ACL changes never notify. matrix-js-sdk warns when it is missing.
			defaultRule(".m.rule.room.server_acl", true, conds(eventMatch("type", "m.room.server_acl"), eventMatch("state_key", ""))),
			defaultRule(".m.rule.suppress_edits", true, conds(cond("kind", "event_property_is",
				"key", `content.m\.relates_to.rel_type`, "value", "m.replace"))),
		},
		Content: []PushRule{
			{RuleID: ".m.rule.contains_user_name", Default: true, Enabled: true, Pattern: &pattern,
				Actions: []any{"notify", soundDefault, highlight}},
		},
		Room:   []PushRule{},
		Sender: []PushRule{},
		Underride: []PushRule{
			defaultRule(".m.rule.call", true, conds(eventMatch("type", "m.call.invite")), "notify", tweak("sound", "ring"), noHighlight),
			defaultRule(".m.rule.encrypted_room_one_to_one", true, conds(cond("kind", "room_member_count", "is", "2"),
				eventMatch("type", "m.room.encrypted")), "notify", soundDefault, noHighlight),
			defaultRule(".m.rule.room_one_to_one", true, conds(cond("kind", "room_member_count", "is", "2"),
				eventMatch("type", "m.room.message")), "notify", soundDefault, noHighlight),
			defaultRule(".m.rule.message", true, conds(eventMatch("type", "m.room.message")), "notify", noHighlight),
			defaultRule(".m.rule.encrypted", true, conds(eventMatch("type", "m.room.encrypted")), "notify", noHighlight),
		},
	}
}
