package internal

import (
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
)

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

// checkLocalpart applies the rules for a new account's localpart, as Synapse does: the
// spec's grammar (non-empty, a-z 0-9 . _ = - / +, a full user ID of at most 255 bytes, see
// matrix.ValidLocalpart); purely numeric localparts are kept for guests and a leading "_"
// for application services (so neither rule applies to those two account types).
func (u *UserAPI) checkLocalpart(localpart string, guest, appservice bool) error {
	if err := matrix.ValidLocalpart(localpart, u.serverName); err != nil {
		return httputil.InvalidUsername("Invalid user ID: %v", err)
	}
	if !guest && isAllDigits(localpart) {
		return httputil.InvalidUsername("Numeric user IDs are reserved for guest users")
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
