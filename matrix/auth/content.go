package auth

import (
	"encoding/json"
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
// valid join_rule the room behaves as "invite".
func JoinRule(e matrix.PDU) string {
	if e == nil {
		return JoinRuleInvite
	}
	var c struct {
		JoinRule *string `json:"join_rule"`
	}
	if err := json.Unmarshal(e.Content(), &c); err != nil || c.JoinRule == nil {
		return JoinRuleInvite
	}
	return *c.JoinRule
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
	v := create.Version()
	var c createContent
	_ = json.Unmarshal(create.Content(), &c)
	if !v.ImplicitRoomCreator {
		if c.Creator == nil {
			return nil
		}
		return []string{*c.Creator}
	}
	out := []string{create.Sender()}
	if v.PrivilegedCreators && c.AdditionalCreators != nil {
		var extra []string
		if json.Unmarshal(*c.AdditionalCreators, &extra) == nil {
			for _, u := range extra {
				if u != create.Sender() {
					out = append(out, u)
				}
			}
		}
	}
	return out
}

// serverName returns the part of a user, room or (v1–v2) event ID after the first ':'.
func serverName(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		return id[i+1:]
	}
	return ""
}
