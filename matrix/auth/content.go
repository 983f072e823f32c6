package auth

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/axon-matrix/axon/matrix"
)

// Event types and memberships the rules refer to.
const (
	TypeCreate           = "m.room.create"
	TypeMember           = "m.room.member"
	TypeJoinRules        = "m.room.join_rules"
	TypePowerLevels      = "m.room.power_levels"
	TypeThirdPartyInvite = "m.room.third_party_invite"
	TypeAliases          = "m.room.aliases"
	TypeRedaction        = "m.room.redaction"

	MembershipJoin   = "join"
	MembershipInvite = "invite"
	MembershipLeave  = "leave"
	MembershipBan    = "ban"
	MembershipKnock  = "knock"

	JoinRulePublic          = "public"
	JoinRuleInvite          = "invite"
	JoinRuleKnock           = "knock"
	JoinRuleRestricted      = "restricted"
	JoinRuleKnockRestricted = "knock_restricted"
	JoinRulePrivate         = "private"
)

// memberContent is the part of m.room.member content the rules read.
type memberContent struct {
	Membership          *string          `json:"membership"`
	AuthorisedVia       *string          `json:"join_authorised_via_users_server"`
	ThirdPartyInviteRaw *json.RawMessage `json:"third_party_invite"`
}

func parseMemberContent(raw json.RawMessage) (memberContent, bool) {
	var c memberContent
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, false
	}
	return c, true
}

// Membership returns the membership of an m.room.member event, or "" for nil or content
// without a string membership.
func Membership(e matrix.PDU) string {
	if e == nil {
		return ""
	}
	c, ok := parseMemberContent(e.Content())
	if !ok || c.Membership == nil {
		return ""
	}
	return *c.Membership
}

// JoinRule returns the join_rule of an m.room.join_rules event; with no event (nil) or no
// valid join_rule the room behaves as "invite". The result is kept on events that are a
// matrix.Memoizer.
func JoinRule(e matrix.PDU) string {
	if e == nil {
		return JoinRuleInvite
	}
	return memo(e, joinRuleKey{}, func() string {
		var c struct {
			JoinRule *string `json:"join_rule"`
		}
		if err := json.Unmarshal(e.Content(), &c); err != nil || c.JoinRule == nil {
			return JoinRuleInvite
		}
		return *c.JoinRule
	})
}

// Keys of the values the rules keep on events (matrix.Memoizer): each is asked of one
// event type only.
type (
	joinRuleKey    struct{} // m.room.join_rules: the join rule
	createKey      struct{} // m.room.create: *createInfo
	powerLevelsKey struct{} // m.room.power_levels: powerLevelsParse
)

// memo returns compute's result, kept on e under key when e is a matrix.Memoizer. Values
// kept must be treated as read-only.
func memo[T any](e matrix.PDU, key any, compute func() T) T {
	m, ok := e.(matrix.Memoizer)
	if !ok {
		return compute()
	}
	return m.Memo(key, func() any { return compute() }).(T)
}

// createContent is the part of m.room.create content the rules read.
type createContent struct {
	Creator            *string          `json:"creator"`
	RoomVersion        *json.RawMessage `json:"room_version"`
	Federate           *bool            `json:"m.federate"`
	AdditionalCreators *json.RawMessage `json:"additional_creators"`
}

// Creators returns the room creators named by a create event: content.creator before v11,
// the sender from v11, and in v12 the sender plus content.additional_creators. The first
// element is always the primary creator (content.creator, or the sender).
func Creators(create matrix.PDU) []string {
	if create == nil {
		return nil
	}
	return slices.Clone(createInfoOf(create).creators)
}

// createInfo is what the rules read of a create event, parsed once per event.
type createInfo struct {
	content createContent // zero if the content is not an object
	// creators is Creators' answer.
	creators []string
}

// createInfoOf parses a create event's content (kept on a matrix.Memoizer event).
func createInfoOf(create matrix.PDU) *createInfo {
	return memo(create, createKey{}, func() *createInfo {
		info := &createInfo{}
		c := &info.content
		_ = json.Unmarshal(create.Content(), c) // not an object: the create rule rejects it
		v := create.Version()
		if !v.ImplicitRoomCreator {
			if c.Creator != nil {
				info.creators = []string{*c.Creator}
			}
			return info
		}
		info.creators = []string{create.Sender()}
		if v.PrivilegedCreators && c.AdditionalCreators != nil {
			var extra []string
			if json.Unmarshal(*c.AdditionalCreators, &extra) == nil {
				for _, u := range extra {
					if u != create.Sender() {
						info.creators = append(info.creators, u)
					}
				}
			}
		}
		return info
	})
}

// serverName returns the part of a user, room or (v1–v2) event ID after the first ':'.
func serverName(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		return id[i+1:]
	}
	return ""
}
