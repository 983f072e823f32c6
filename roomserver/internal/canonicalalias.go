package internal

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
)

// canonicalAliasContent is the part of m.room.canonical_alias content the server checks.
type canonicalAliasContent struct {
	Alias      string
	AltAliases []string
}

// parseCanonicalAlias reads alias and alt_aliases from m.room.canonical_alias content (a
// JSON object: build checked that). An absent or null field is empty; a field of the wrong
// type is 400 M_INVALID_PARAM, as the spec's PUT /state answers malformed aliases.
func parseCanonicalAlias(content json.RawMessage) (canonicalAliasContent, error) {
	var raw struct {
		Alias      json.RawMessage `json:"alias"`
		AltAliases json.RawMessage `json:"alt_aliases"`
	}
	var c canonicalAliasContent
	if err := json.Unmarshal(content, &raw); err != nil {
		return c, httputil.BadJSON("Event content must be a JSON object")
	}
	if len(raw.Alias) > 0 && string(raw.Alias) != "null" {
		if err := json.Unmarshal(raw.Alias, &c.Alias); err != nil {
			return c, httputil.InvalidParam("alias must be a string")
		}
	}
	if len(raw.AltAliases) > 0 && string(raw.AltAliases) != "null" {
		if err := json.Unmarshal(raw.AltAliases, &c.AltAliases); err != nil {
			return c, httputil.InvalidParam("alt_aliases must be a list of strings")
		}
	}
	return c, nil
}

// checkCanonicalAlias validates new m.room.canonical_alias content against the current
// event (arrow 4, PUT /rooms/{roomId}/state/m.room.canonical_alias). As the spec says, only
// the aliases it adds are checked (the alias if it changed, alt_aliases not listed before):
// each must be a valid alias (else 400 M_INVALID_PARAM) and, if it is this server's, exist
// and point at this room (else 400 M_BAD_ALIAS). Other servers' aliases are not resolved:
// that needs federation. Aliases removed or kept are never checked, so a room whose alias
// was deleted can still drop it.
func (w *roomWriter) checkCanonicalAlias(ctx context.Context, content json.RawMessage) error {
	next, err := parseCanonicalAlias(content)
	if err != nil {
		return err
	}
	var cur canonicalAliasContent
	old, err := w.stateEvent(ctx, "m.room.canonical_alias", "")
	if err != nil {
		return err
	}
	if old != nil {
		// A current event of an unknown form counts as listing nothing.
		cur, _ = parseCanonicalAlias(old.Content())
	}
	var added []string
	if next.Alias != "" && next.Alias != cur.Alias {
		added = append(added, next.Alias)
	}
	for _, a := range next.AltAliases {
		if !slices.Contains(cur.AltAliases, a) && !slices.Contains(added, a) {
			added = append(added, a)
		}
	}
	for _, alias := range added {
		if !matrix.ValidRoomAlias(alias) {
			return httputil.InvalidParam("%q is not a valid room alias", alias)
		}
	}
	for _, alias := range added {
		if server, _ := matrix.ServerNameOf(alias); server != w.a.serverName {
			continue // resolving other servers' aliases needs federation
		}
		roomID, _, err := w.s.Alias(ctx, alias)
		if err != nil {
			return err
		}
		if roomID != w.room.RoomID {
			return badAlias("The alias %s does not point to this room", alias)
		}
	}
	return nil
}

func badAlias(format string, a ...any) error {
	e := httputil.InvalidParam(format, a...)
	e.ErrCode = "M_BAD_ALIAS"
	return e
}
