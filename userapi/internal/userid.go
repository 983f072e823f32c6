package internal

import (
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
)

// maxUserIDLength is the spec's limit on a full user ID, in bytes (appendices, "User Identifiers").
const maxUserIDLength = 255

// userID returns @localpart:server for this server.
func (u *UserAPI) userID(localpart string) string {
	return "@" + localpart + ":" + u.serverName
}

// localpartOf returns the localpart of one of this server's user IDs. A malformed ID, or one
// of another server, is M_NOT_FOUND: the userapi only knows local users.
func (u *UserAPI) localpartOf(userID string) (string, error) {
	if !strings.HasPrefix(userID, "@") {
		return "", httputil.InvalidParam("%q is not a user ID", userID)
	}
	local, server, ok := strings.Cut(userID[1:], ":")
	if !ok || local == "" {
		return "", httputil.InvalidParam("%q is not a user ID", userID)
	}
	if server != u.serverName {
		return "", httputil.NotFound("User %s is not a local user", userID)
	}
	return local, nil
}

// validLocalpartChar is the spec's grammar for new user IDs: a-z 0-9 . _ = - / +.
func validLocalpartChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '=' || c == '-' || c == '/' || c == '+'
}

// checkLocalpart applies the rules for a new account's localpart, as Synapse does: only the
// spec's characters, not empty, a full user ID of at most 255 bytes; purely numeric
// localparts are kept for guests and a leading "_" for application services (so neither
// applies to those two account types).
func (u *UserAPI) checkLocalpart(localpart string, guest, appservice bool) error {
	if localpart == "" {
		return httputil.InvalidUsername("User ID cannot be empty")
	}
	for i := 0; i < len(localpart); i++ {
		if !validLocalpartChar(localpart[i]) {
			return httputil.InvalidUsername("User ID can only contain characters a-z, 0-9, or '=_-./+'")
		}
	}
	if len(u.userID(localpart)) > maxUserIDLength {
		return httputil.InvalidUsername("User ID may not be longer than %d characters", maxUserIDLength)
	}
	if !guest {
		if isAllDigits(localpart) {
			return httputil.InvalidUsername("Numeric user IDs are reserved for guest users")
		}
	}
	if !appservice && localpart[0] == '_' {
		return httputil.InvalidUsername("User ID may not begin with _")
	}
	return nil
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
