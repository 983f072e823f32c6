package matrix

import (
	"encoding/json"
	"net/netip"
	"strings"
)

// ServerACL is the content of a room's m.room.server_acl state event (spec "Server Access
// Control Lists"): which servers may take part in the room over federation.
type ServerACL struct {
	allow           []string
	deny            []string
	allowIPLiterals bool
}

// ParseServerACL reads an m.room.server_acl content. Entries of allow and deny that are not
// strings are ignored, as is an allow_ip_literals that is not a boolean (it then keeps its
// default, true). Content that is not a JSON object denies nothing it could not parse:
// it gives an ACL with an empty allow list, which denies every server, as the spec's
// default for a missing allow does.
func ParseServerACL(content json.RawMessage) *ServerACL {
	acl := &ServerACL{allowIPLiterals: true}
	var raw map[string]json.RawMessage
	if json.Unmarshal(content, &raw) != nil {
		return acl
	}
	acl.allow = stringEntries(raw["allow"])
	acl.deny = stringEntries(raw["deny"])
	var b bool
	if v, ok := raw["allow_ip_literals"]; ok && json.Unmarshal(v, &b) == nil {
		acl.allowIPLiterals = b
	}
	return acl
}

func stringEntries(v json.RawMessage) []string {
	var items []json.RawMessage
	if json.Unmarshal(v, &items) != nil {
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// Allowed says whether serverName (with or without a port: the port is ignored) may
// take part in the room: not an IP literal when allow_ip_literals is false, matching no
// deny entry, and matching an allow entry. Matching is case-insensitive; '*' stands for
// any run of characters, '?' for exactly one.
func (a *ServerACL) Allowed(serverName string) bool {
	host := hostOf(serverName)
	if !a.allowIPLiterals && isIPLiteral(host) {
		return false
	}
	for _, g := range a.deny {
		if globMatch(strings.ToLower(g), host) {
			return false
		}
	}
	for _, g := range a.allow {
		if globMatch(strings.ToLower(g), host) {
			return true
		}
	}
	return false
}

// hostOf drops the port of a server name and lower-cases it.
func hostOf(serverName string) string {
	s := strings.ToLower(serverName)
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i > 0 {
			return s[:i+1]
		}
		return s
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return s[:i]
	}
	return s
}

func isIPLiteral(host string) bool {
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

// globMatch matches s against pattern, where '*' is any run of bytes (also none) and '?'
// exactly one character. Iterative with one backtrack point: linear in practice, no
// exponential blow-up on patterns like "*a*a*a*b".
func globMatch(pattern, s string) bool {
	p, i := []rune(pattern), []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(i) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == i[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
