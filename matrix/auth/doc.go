// Package auth implements the Matrix authorization rules for room versions 1–12: whether
// an event is allowed given the state it is authorised against (its auth events, or the
// room state before it). The roomserver (ARCHITECTURE.md §2, arrows 3 and 4: sending new
// events) and state resolution (matrix/stateres) call Allowed; both work on the
// matrix.PDU contract, never on a concrete event type.
//
// Version differences come from the matrix.RoomVersion table:
//   - SpecialCaseAliasesAuth (v1–v5): m.room.aliases has its own rule.
//   - EventIDFormatServer (v1–v2): m.room.redaction is checked against the redact level or
//     the event ID domains; from v3 on redactions are checked when applied, not here.
//   - StrictCanonicalJSON (v6+): float power levels are invalid.
//   - NotificationsPowerLevels (v6+): changes to "notifications" are checked.
//   - Knocking (v7+), RestrictedJoins (v8+), KnockRestricted (v10+): join rules.
//   - IntegerPowerLevels (v10+): power levels must be JSON integers.
//   - ImplicitRoomCreator (v11+): the creator is the create event's sender.
//   - RoomIDFromCreateEvent, PrivilegedCreators (v12): room ID derived from the create
//     event, creators with infinite power.
package auth
