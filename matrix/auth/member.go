package auth

import (
	"encoding/json"

	"github.com/axon-matrix/axon/matrix"
)

// memberAllowed is the m.room.member rule; pl are the current power levels.
func memberAllowed(e matrix.PDU, authEvents AuthEventProvider, create matrix.PDU, pl *PowerLevels) error {
	v := e.Version()
	id := e.EventID()
	c, ok := parseMemberContent(e.Content())
	if e.StateKey() == nil || !ok || c.Membership == nil {
		return notAllowed(id, "member.content", "m.room.member needs a state_key and a string membership")
	}
	target := *e.StateKey()
	sender := e.Sender()
	membership := *c.Membership

	if v.RestrictedJoins && c.AuthorisedVia != nil {
		if !signedBy(e, serverName(*c.AuthorisedVia)) {
			return notAllowed(id, "member.authorised_via.signature", "not signed by %s, the server of join_authorised_via_users_server", serverName(*c.AuthorisedVia))
		}
	}

	senderMembership := Membership(authEvents.Member(sender))
	targetMembership := Membership(authEvents.Member(target))
	joinRule := JoinRule(authEvents.JoinRules())
	senderLevel := pl.UserPowerLevel(sender)
	targetLevel := pl.UserPowerLevel(target)

	switch membership {
	case MembershipJoin:
		prev := e.PrevEventIDs()
		// The creator's own first join: content.creator before v11, the create event's
		// sender from v11 (in v12 too: additional creators join like anyone else).
		if len(prev) == 1 && prev[0] == create.EventID() {
			if cs := createInfoOf(create).creators; len(cs) > 0 && cs[0] == target {
				return nil
			}
		}
		if sender != target {
			return notAllowed(id, "member.join.sender", "sender %s cannot join %s", sender, target)
		}
		if senderMembership == MembershipBan {
			return notAllowed(id, "member.join.banned", "%s is banned", sender)
		}
		switch {
		case joinRule == JoinRuleInvite || (v.Knocking && joinRule == JoinRuleKnock):
			if senderMembership == MembershipInvite || senderMembership == MembershipJoin {
				return nil
			}
			return notAllowed(id, "member.join.invite", "join rule is %s and %s is not invited", joinRule, sender)
		case (v.RestrictedJoins && joinRule == JoinRuleRestricted) || (v.KnockRestricted && joinRule == JoinRuleKnockRestricted):
			if senderMembership == MembershipInvite || senderMembership == MembershipJoin {
				return nil
			}
			if c.AuthorisedVia == nil {
				return notAllowed(id, "member.join.restricted", "join rule is %s and no join_authorised_via_users_server is given", joinRule)
			}
			via := *c.AuthorisedVia
			if Membership(authEvents.Member(via)) != MembershipJoin {
				return notAllowed(id, "member.join.restricted", "authorising user %s is not joined", via)
			}
			if lvl := pl.UserPowerLevel(via); lvl < pl.Invite {
				return notAllowed(id, "member.join.restricted", "authorising user %s has level %d, below the invite level %d", via, lvl, pl.Invite)
			}
			return nil
		case joinRule == JoinRulePublic:
			return nil
		}
		return notAllowed(id, "member.join.rule", "join rule %q does not allow joining", joinRule)

	case MembershipInvite:
		if c.ThirdPartyInviteRaw != nil {
			return thirdPartyInviteAllowed(e, *c.ThirdPartyInviteRaw, targetMembership, authEvents)
		}
		if senderMembership != MembershipJoin {
			return notAllowed(id, "member.invite.sender", "sender %s is not joined", sender)
		}
		if targetMembership == MembershipJoin || targetMembership == MembershipBan {
			return notAllowed(id, "member.invite.target", "target %s is already %s", target, targetMembership)
		}
		if senderLevel >= pl.Invite {
			return nil
		}
		return notAllowed(id, "member.invite.level", "sender level %d is below the invite level %d", senderLevel, pl.Invite)

	case MembershipLeave:
		if sender == target {
			if senderMembership == MembershipInvite || senderMembership == MembershipJoin ||
				(v.Knocking && senderMembership == MembershipKnock) {
				return nil
			}
			return notAllowed(id, "member.leave.self", "%s cannot leave with membership %q", sender, senderMembership)
		}
		if senderMembership != MembershipJoin {
			return notAllowed(id, "member.leave.sender", "sender %s is not joined", sender)
		}
		if targetMembership == MembershipBan && senderLevel < pl.Ban {
			return notAllowed(id, "member.leave.unban", "sender level %d is below the ban level %d needed to unban", senderLevel, pl.Ban)
		}
		if senderLevel >= pl.Kick && targetLevel < senderLevel {
			return nil
		}
		return notAllowed(id, "member.leave.kick", "sender level %d cannot kick %s (kick level %d, target level %d)", senderLevel, target, pl.Kick, targetLevel)

	case MembershipBan:
		if senderMembership != MembershipJoin {
			return notAllowed(id, "member.ban.sender", "sender %s is not joined", sender)
		}
		if senderLevel >= pl.Ban && targetLevel < senderLevel {
			return nil
		}
		return notAllowed(id, "member.ban.level", "sender level %d cannot ban %s (ban level %d, target level %d)", senderLevel, target, pl.Ban, targetLevel)

	case MembershipKnock:
		if !v.Knocking {
			break
		}
		if joinRule != JoinRuleKnock && !(v.KnockRestricted && joinRule == JoinRuleKnockRestricted) {
			return notAllowed(id, "member.knock.rule", "join rule %q does not allow knocking", joinRule)
		}
		if sender != target {
			return notAllowed(id, "member.knock.sender", "sender %s cannot knock for %s", sender, target)
		}
		if senderMembership != MembershipBan && senderMembership != MembershipInvite && senderMembership != MembershipJoin {
			return nil
		}
		return notAllowed(id, "member.knock.membership", "%s cannot knock with membership %q", sender, senderMembership)
	}
	return notAllowed(id, "member.membership", "unknown membership %q", membership)
}

// signedBy reports whether e's JSON carries a signature from server. Verifying the
// signature itself is part of the checks on receipt (signatures of every server the
// event needs, arrow 11); this rule only ensures the authorising server is among them.
func signedBy(e matrix.PDU, server string) bool {
	var top struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	if server == "" || json.Unmarshal(e.JSON(), &top) != nil {
		return false
	}
	return len(top.Signatures[server]) > 0
}
