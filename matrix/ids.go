package matrix

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxIDLength is the longest a user ID, room ID, room alias or event ID may be, in bytes,
// sigil and domain included (spec appendix "Identifier Grammar").
const MaxIDLength = 255

// Sigils of the common identifier format.
const (
	SigilUser      = '@'
	SigilRoom      = '!'
	SigilEvent     = '$'
	SigilRoomAlias = '#'
)

// IDError says why an identifier was rejected. Client-facing code usually maps it to
// M_INVALID_PARAM (or M_INVALID_USERNAME for registration).
type IDError struct {
	ID     string
	Reason string
}

// Error implements error.
func (e *IDError) Error() string {
	return fmt.Sprintf("invalid identifier %q: %s", e.ID, e.Reason)
}

func idErr(id, format string, args ...any) error {
	return &IDError{ID: id, Reason: fmt.Sprintf(format, args...)}
}

// splitID checks sigil, length and UTF-8 and splits "&local:server" at the first ':'.
// hasServer is false when the ID has no ':' at all.
func splitID(sigil byte, id string) (local, server string, hasServer bool, err error) {
	if len(id) == 0 || id[0] != sigil {
		return "", "", false, idErr(id, "must start with %q", sigil)
	}
	if len(id) > MaxIDLength {
		return "", "", false, idErr(id, "longer than %d bytes", MaxIDLength)
	}
	if !utf8.ValidString(id) {
		return "", "", false, idErr(id, "not valid UTF-8")
	}
	if strings.IndexByte(id, 0) >= 0 {
		return "", "", false, idErr(id, "contains NUL")
	}
	rest := id[1:]
	i := strings.IndexByte(rest, ':')
	if i < 0 {
		return rest, "", false, nil
	}
	local, server = rest[:i], rest[i+1:]
	if err := ValidateServerName(server); err != nil {
		return "", "", true, idErr(id, "bad server name: %v", err)
	}
	return local, server, true, nil
}

// ParseUserID splits "@localpart:server" and checks it the way federation must: the
// localpart may be any valid UTF-8 except ':' and NUL, even empty (the spec's "historical
// user IDs"), the server name must be valid and the whole ID at most 255 bytes.
// Use ValidLocalpart to hold new local users to the strict grammar.
func ParseUserID(id string) (localpart, server string, err error) {
	local, server, hasServer, err := splitID(SigilUser, id)
	if err != nil {
		return "", "", err
	}
	if !hasServer {
		return "", "", idErr(id, "missing ':server'")
	}
	return local, server, nil
}

// ValidUserID reports whether id is an acceptable (possibly historical) user ID.
func ValidUserID(id string) bool {
	_, _, err := ParseUserID(id)
	return err == nil
}

// UserIDServer returns the server name of a user ID, or an error if it does not parse.
func UserIDServer(id string) (string, error) {
	_, server, err := ParseUserID(id)
	return server, err
}

// ValidLocalpart checks a localpart for a new user against the spec's current grammar:
// non-empty, only a-z 0-9 . _ = - / +, and the resulting "@localpart:server" at most 255
// bytes. Registration uses it; incoming federation uses ParseUserID.
func ValidLocalpart(localpart, server string) error {
	if localpart == "" {
		return errors.New("localpart is empty")
	}
	for i := 0; i < len(localpart); i++ {
		if !isUserIDChar(localpart[i]) {
			return fmt.Errorf("localpart may only contain a-z, 0-9, '.', '_', '=', '-', '/' and '+', found %q", localpart[i])
		}
	}
	if n := 1 + len(localpart) + 1 + len(server); n > MaxIDLength {
		return fmt.Errorf("user ID would be %d bytes, more than %d", n, MaxIDLength)
	}
	return nil
}

func isUserIDChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-.=_/+", c) >= 0
}

// CompliantUserID reports whether a user ID is compliant in the spec's sense: its
// localpart is non-empty and uses only U+0021…U+007E. Servers accept non-compliant IDs in
// events but should not forward them to clients outside an event context.
func CompliantUserID(id string) bool {
	local, _, err := ParseUserID(id)
	if err != nil || local == "" {
		return false
	}
	for i := 0; i < len(local); i++ {
		if local[i] < 0x21 || local[i] > 0x7e {
			return false
		}
	}
	return true
}

// ParseRoomID splits a room ID. Room versions 1–11 use "!opaque:server"; version 12 uses
// "!" + the create event's hash, with no server, in which case server is "".
func ParseRoomID(id string) (opaque, server string, err error) {
	opaque, server, _, err = splitID(SigilRoom, id)
	if err != nil {
		return "", "", err
	}
	if opaque == "" {
		return "", "", idErr(id, "empty opaque part")
	}
	return opaque, server, nil
}

// ValidRoomID reports whether id is a well-formed room ID of any room version.
func ValidRoomID(id string) bool {
	_, _, err := ParseRoomID(id)
	return err == nil
}

// ValidRoomIDForVersion checks a room ID against the form of a room version: v1–11 need
// "!opaque:server"; v12 room IDs are "!" + 43 characters of URL-safe base64 (the create
// event's reference hash) with no server.
func ValidRoomIDForVersion(id string, v *RoomVersion) error {
	opaque, server, err := ParseRoomID(id)
	if err != nil {
		return err
	}
	if !v.RoomIDFromCreateEvent {
		if server == "" {
			return idErr(id, "room version %s room IDs need a server name", v.ID)
		}
		return nil
	}
	if server != "" || len(opaque) != 43 {
		return idErr(id, "room version %s room IDs are 43 characters of URL-safe base64", v.ID)
	}
	for i := 0; i < len(opaque); i++ {
		if !isBase64Char(opaque[i], true) {
			return idErr(id, "room version %s room IDs are URL-safe base64", v.ID)
		}
	}
	return nil
}

// ParseEventID splits an event ID: "$opaque:server" (room versions 1–2) or "$hash"
// (v3+, server ""). Which form is right depends on the room version; see
// ValidEventIDForVersion.
func ParseEventID(id string) (opaque, server string, err error) {
	opaque, server, _, err = splitID(SigilEvent, id)
	if err != nil {
		return "", "", err
	}
	if opaque == "" {
		return "", "", idErr(id, "empty opaque part")
	}
	return opaque, server, nil
}

// ValidEventIDForVersion checks an event ID against the format of a room version: v1–v2
// need "$opaque:server"; v3 needs "$" + 43 characters of standard base64; v4+ "$" + 43
// characters of URL-safe base64.
func ValidEventIDForVersion(id string, v *RoomVersion) error {
	opaque, server, err := ParseEventID(id)
	if err != nil {
		return err
	}
	switch v.EventIDFormat {
	case EventIDFormatServer:
		if server == "" {
			return idErr(id, "room version %s event IDs need a server name", v.ID)
		}
		return nil
	case EventIDFormatBase64, EventIDFormatURLSafe:
		if len(id)-1 != 43 {
			return idErr(id, "room version %s event IDs are 43 characters of base64", v.ID)
		}
		for i := 0; i < len(opaque); i++ {
			if !isBase64Char(opaque[i], v.EventIDFormat == EventIDFormatURLSafe) {
				return idErr(id, "room version %s event IDs are unpadded base64", v.ID)
			}
		}
		return nil
	}
	return idErr(id, "unknown event ID format")
}

func isBase64Char(c byte, urlSafe bool) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	case urlSafe:
		return c == '-' || c == '_'
	default:
		return c == '+' || c == '/'
	}
}

// ParseRoomAlias splits "#alias:server". The alias localpart may hold any valid UTF-8
// except ':' (and NUL).
func ParseRoomAlias(id string) (localpart, server string, err error) {
	local, server, hasServer, err := splitID(SigilRoomAlias, id)
	if err != nil {
		return "", "", err
	}
	if !hasServer {
		return "", "", idErr(id, "missing ':server'")
	}
	return local, server, nil
}

// ValidRoomAlias reports whether id is a well-formed room alias.
func ValidRoomAlias(id string) bool {
	_, _, err := ParseRoomAlias(id)
	return err == nil
}

// ServerNameOf returns the server part of a "&local:server" identifier (user ID, room
// alias, v1–11 room ID, v1–2 event ID) without validating it; ok is false if there is none.
func ServerNameOf(id string) (server string, ok bool) {
	i := strings.IndexByte(id, ':')
	if i < 0 {
		return "", false
	}
	return id[i+1:], true
}

// ParseServerName splits a server name into host and port (0 if none) following the
// appendix grammar: hostname [":" port], hostname being a DNS name, a dotted-quad IPv4
// address, or an IPv6 address in brackets. Host keeps its brackets for IPv6.
func ParseServerName(s string) (host string, port int, err error) {
	if s == "" {
		return "", 0, errors.New("empty server name")
	}
	host, portStr := s, ""
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, errors.New("unterminated IPv6 literal")
		}
		host = s[:end+1]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", 0, errors.New("junk after IPv6 literal")
			}
			portStr = rest[1:]
			if portStr == "" {
				return "", 0, errors.New("empty port")
			}
		}
		inner := host[1 : len(host)-1]
		if len(inner) < 2 || len(inner) > 45 {
			return "", 0, errors.New("bad IPv6 literal length")
		}
		for i := 0; i < len(inner); i++ {
			c := inner[i]
			if !(isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.') {
				return "", 0, fmt.Errorf("bad character %q in IPv6 literal", c)
			}
		}
		addr, perr := netip.ParseAddr(inner)
		if perr != nil || !addr.Is6() {
			return "", 0, errors.New("invalid IPv6 address")
		}
	} else {
		if i := strings.IndexByte(s, ':'); i >= 0 {
			host, portStr = s[:i], s[i+1:]
			if portStr == "" {
				return "", 0, errors.New("empty port")
			}
		}
		if err := validDNSOrIPv4(host); err != nil {
			return "", 0, err
		}
	}
	if portStr != "" {
		if len(portStr) > 5 {
			return "", 0, errors.New("port longer than 5 digits")
		}
		for i := 0; i < len(portStr); i++ {
			if !isDigit(portStr[i]) {
				return "", 0, errors.New("port is not a number")
			}
		}
		port, _ = strconv.Atoi(portStr)
		if port < 1 || port > 65535 {
			return "", 0, errors.New("port out of range")
		}
	}
	return host, port, nil
}

// ValidateServerName returns an error if s is not a valid server name.
func ValidateServerName(s string) error {
	_, _, err := ParseServerName(s)
	return err
}

// ValidServerName reports whether s is a valid server name.
func ValidServerName(s string) bool { return ValidateServerName(s) == nil }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validDNSOrIPv4 checks dns-name = 1*255 (DIGIT / ALPHA / "-" / "."); a name made only of
// digits and dots in four groups is an IPv4 literal and each group must be 0–255.
func validDNSOrIPv4(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if len(h) > 255 {
		return errors.New("host longer than 255 characters")
	}
	numeric := true
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case isDigit(c) || c == '.':
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-':
			numeric = false
		default:
			return fmt.Errorf("bad character %q in host", c)
		}
	}
	if numeric {
		if parts := strings.Split(h, "."); len(parts) == 4 {
			for _, p := range parts {
				if p == "" || len(p) > 3 {
					return errors.New("invalid IPv4 address")
				}
				if n, _ := strconv.Atoi(p); n > 255 {
					return errors.New("invalid IPv4 address")
				}
			}
		}
	}
	return nil
}
