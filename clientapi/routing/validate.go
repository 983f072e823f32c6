package routing

import (
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
)

// maxIDLength is the spec's limit on user IDs, room IDs, aliases, event IDs and event types.
const maxIDLength = matrix.MaxIDLength

// parseUserID checks a user ID and returns its parts, or M_INVALID_PARAM.
func parseUserID(id string) (localpart, server string, err error) {
	l, s, err := matrix.ParseUserID(id)
	if err != nil {
		return "", "", httputil.InvalidParam("Invalid user ID %q: %v", id, err)
	}
	return l, s, nil
}

// checkRoomID checks a room ID: "!opaque:server" for room versions 1–11, "!hash" for v12.
func checkRoomID(id string) error {
	if _, _, err := matrix.ParseRoomID(id); err != nil {
		return httputil.InvalidParam("Invalid room ID %q: %v", id, err)
	}
	return nil
}

// parseAlias checks a room alias "#local:server" and returns its server, or M_INVALID_PARAM.
func parseAlias(alias string) (server string, err error) {
	_, s, err := matrix.ParseRoomAlias(alias)
	if err != nil {
		return "", httputil.InvalidParam("Invalid room alias %q: %v", alias, err)
	}
	return s, nil
}

// checkEventID checks an event ID ("$…").
func checkEventID(id string) error {
	if _, _, err := matrix.ParseEventID(id); err != nil {
		return httputil.InvalidParam("Invalid event ID %q: %v", id, err)
	}
	return nil
}

// checkEventType checks an event type from a path.
func checkEventType(t string) error {
	if t == "" || len(t) > maxIDLength {
		return httputil.InvalidParam("Invalid event type")
	}
	return nil
}
