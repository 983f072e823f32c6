// Package types holds the syncapi's value types that its storage, engine and handlers
// share: sync tokens and pagination tokens. Positions in them are the producer-assigned
// stream positions of topic 2 (room events) and topic 1 (account data), never broker
// offsets, so a token means the same on every sync instance (ARCHITECTURE.md §7).
package types

import (
	"fmt"
	"strconv"
	"strings"
)

// StreamToken is a sync token: one position per stream. Its text form is
// "s<room>_<accountData>_<edu>_<keyChange>"; further "_"-separated parts (added later)
// are kept verbatim in Extra and ignored by this version, so an old instance can still
// parse a newer instance's token. Older tokens without the edu or key change part mean
// position 0 there.
type StreamToken struct {
	// Room is the topic 2 position: every room event at or below it has been seen.
	Room int64
	// AccountData is the topic 1 position.
	AccountData int64
	// EDU is the topic 3 position (eduserver → syncapi: typing, receipts, to-device).
	EDU int64
	// KeyChange is the topic 7 position (keyserver → syncapi: device-list changes).
	KeyChange int64
	// Extra are parts this version does not know.
	Extra []string
}

// String renders the token, e.g. "s42_7_3_5".
func (t StreamToken) String() string {
	var b strings.Builder
	b.WriteString("s")
	b.WriteString(strconv.FormatInt(t.Room, 10))
	b.WriteString("_")
	b.WriteString(strconv.FormatInt(t.AccountData, 10))
	b.WriteString("_")
	b.WriteString(strconv.FormatInt(t.EDU, 10))
	b.WriteString("_")
	b.WriteString(strconv.FormatInt(t.KeyChange, 10))
	for _, e := range t.Extra {
		b.WriteString("_")
		b.WriteString(e)
	}
	return b.String()
}

// IsAfter reports whether t is ahead of o in any stream.
func (t StreamToken) IsAfter(o StreamToken) bool {
	return t.Room > o.Room || t.AccountData > o.AccountData || t.EDU > o.EDU || t.KeyChange > o.KeyChange
}

// SamePositions reports whether t and o name the same position in every stream this
// version knows.
func (t StreamToken) SamePositions(o StreamToken) bool {
	return t.Room == o.Room && t.AccountData == o.AccountData && t.EDU == o.EDU && t.KeyChange == o.KeyChange
}

// ParseStreamToken parses a sync token. Missing parts ("s<room>", "s<room>_<accountData>")
// are position 0.
func ParseStreamToken(s string) (StreamToken, error) {
	if len(s) < 2 || s[0] != 's' {
		return StreamToken{}, fmt.Errorf("sync token %q does not start with 's'", s)
	}
	parts := strings.Split(s[1:], "_")
	var t StreamToken
	var err error
	if t.Room, err = parsePos(parts[0]); err != nil {
		return StreamToken{}, err
	}
	if len(parts) > 1 {
		if t.AccountData, err = parsePos(parts[1]); err != nil {
			return StreamToken{}, err
		}
	}
	if len(parts) > 2 {
		if t.EDU, err = parsePos(parts[2]); err != nil {
			return StreamToken{}, err
		}
	}
	if len(parts) > 3 {
		if t.KeyChange, err = parsePos(parts[3]); err != nil {
			return StreamToken{}, err
		}
	}
	if len(parts) > 4 {
		t.Extra = append([]string(nil), parts[4:]...)
	}
	return t, nil
}

func parsePos(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad stream position %q", s)
	}
	return n, nil
}

// PaginationToken names a point in a room's timeline for /messages, /context and
// prev_batch: the point just after the room event at topic 2 position Pos. Paginating
// backwards from it returns events at positions ≤ Pos; forwards, events at positions > Pos.
// Its text form is "t<pos>". A sync token (next_batch) is accepted wherever a pagination
// token is, meaning its room position. Pos is negative in history backfilled from other
// servers (below the room's first topic 2 event; see syncapi/README.md), e.g. "t-12".
type PaginationToken struct {
	Pos int64
}

// String renders the token, e.g. "t41".
func (p PaginationToken) String() string { return "t" + strconv.FormatInt(p.Pos, 10) }

// ParsePaginationToken parses "t<pos>" or a sync token "s<room>_…".
func ParsePaginationToken(s string) (PaginationToken, error) {
	if len(s) >= 2 && s[0] == 't' {
		neg := strings.HasPrefix(s[1:], "-")
		n, err := parsePos(strings.TrimPrefix(s[1:], "-"))
		if err != nil || (neg && n == 0) {
			return PaginationToken{}, fmt.Errorf("bad pagination token %q", s)
		}
		if neg {
			n = -n // backfilled history
		}
		return PaginationToken{Pos: n}, nil
	}
	st, err := ParseStreamToken(s)
	if err != nil {
		return PaginationToken{}, fmt.Errorf("pagination token %q is neither t<pos> nor a sync token", s)
	}
	return PaginationToken{Pos: st.Room}, nil
}
