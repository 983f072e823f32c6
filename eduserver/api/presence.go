package api

import "context"

// Presence (arrow 6 from the clientapi's /presence endpoints, arrow 18 from the syncapi's
// set_presence on /sync). Numbers as docs/wiring.md.

// PresenceAPI is the presence part of EDUServerAPI, and its read-your-writes position.
type PresenceAPI interface {
	// SetPresence sets a user's presence. FromSync marks a /sync's implicit update: online
	// turns offline into online and otherwise only counts as activity (last_active_ts;
	// an unavailable user stays unavailable), unavailable sets unavailable, offline does
	// nothing. With presence switched off it does nothing.
	SetPresence(ctx context.Context, req *SetPresenceRequest) error
	// GetPresence returns a user's presence ("offline" for a user never seen, and for
	// everyone while presence is switched off).
	GetPresence(ctx context.Context, userID string) (*PresenceResponse, error)
	// QueryWritePosition returns the topic 3 position of the newest record a read of
	// userID's /sync must reflect: their own typing, receipts, presence and to-device
	// messages sent, and to-device messages sent to them (read your own writes; 0 when
	// there is none since the eduserver started).
	QueryWritePosition(ctx context.Context, userID string) (int64, error)
}

// Presence states.
const (
	PresenceOnline      = "online"
	PresenceUnavailable = "unavailable"
	PresenceOffline     = "offline"
)

// MaxStatusMsgLength bounds status_msg in bytes.
const MaxStatusMsgLength = 2048

// SetPresenceRequest is one PUT /presence/{userId}/status, or a /sync's set_presence.
type SetPresenceRequest struct {
	UserID    string  `json:"user_id"`
	Presence  string  `json:"presence"`
	StatusMsg *string `json:"status_msg,omitempty"` // nil: keep the stored one (FromSync), or clear it
	FromSync  bool    `json:"from_sync,omitempty"`
}

// PresenceResponse is GET /presence/{userId}/status.
type PresenceResponse struct {
	Presence        string  `json:"presence"`
	StatusMsg       *string `json:"status_msg,omitempty"`
	LastActiveAgo   int64   `json:"last_active_ago,omitempty"`
	CurrentlyActive bool    `json:"currently_active,omitempty"`
}
