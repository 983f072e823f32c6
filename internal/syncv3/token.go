package syncv3

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
)

// Pos is a snapshot position of the Source: the room stream (timeline and state), the
// edu stream (typing, receipts, to-device) and the account data stream (room_list's tags
// and DM flags; 0 for a Source without one), each a position the Source defines.
type Pos struct {
	Room, EDU, AccountData int64
}

// after reports whether p is ahead of q on any stream.
func (p Pos) after(q Pos) bool {
	return p.Room > q.Room || p.EDU > q.EDU || p.AccountData > q.AccountData
}

// Token is a parsed `?since=` / `next`: the session it names, the snapshot position, and
// the position of the last to-device message the session was sent.
//
// Wire format: "v3_<session>_<room>_<edu>_<toDevice>_<accountData>", the session a
// 24-digit lower-case hex ID and the positions decimal, e.g.
// "v3_0f1e2d3c4b5a69788796a5b4_41_7_5_3".
type Token struct {
	Session  string
	Pos      Pos
	ToDevice int64
}

const tokenPrefix = "v3_"

// String renders the token.
func (t Token) String() string {
	return tokenPrefix + t.Session + "_" + strconv.FormatInt(t.Pos.Room, 10) + "_" +
		strconv.FormatInt(t.Pos.EDU, 10) + "_" + strconv.FormatInt(t.ToDevice, 10) + "_" +
		strconv.FormatInt(t.Pos.AccountData, 10)
}

// ParseToken parses a token; ok is false for anything malformed.
func ParseToken(s string) (t Token, ok bool) {
	rest, found := strings.CutPrefix(s, tokenPrefix)
	if !found {
		return Token{}, false
	}
	parts := strings.Split(rest, "_")
	if len(parts) != 5 || !validSessionID(parts[0]) {
		return Token{}, false
	}
	var nums [4]int64
	for i, p := range parts[1:] {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 || strconv.FormatInt(n, 10) != p {
			return Token{}, false
		}
		nums[i] = n
	}
	return Token{Session: parts[0], Pos: Pos{Room: nums[0], EDU: nums[1], AccountData: nums[3]}, ToDevice: nums[2]}, true
}

const sessionIDLen = 24

// newSessionID is 12 random bytes in hex.
func newSessionID() string {
	b := make([]byte, sessionIDLen/2)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func validSessionID(s string) bool {
	if len(s) != sessionIDLen {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
