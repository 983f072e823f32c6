package api

import (
	"context"
	"encoding/json"
)

// Federation: arrow 5 (federationapi → eduserver: the EDUs of PUT /send) and topic 5
// (eduserver → federationsender: this server's users' EDUs for other servers). Numbers as
// docs/wiring.md.

// FederationAPI is the federation part of EDUServerAPI.
type FederationAPI interface {
	// InputFederationEDUs takes the EDUs of one transaction from Origin (arrow 5). Each
	// is checked on its own: one about a user of another server than Origin, about a
	// room the user is not joined to, or malformed, is dropped (logged); the others reach
	// the local users through topic 3. An error means nothing could be stored (the
	// transaction should be retried).
	InputFederationEDUs(ctx context.Context, req *InputFederationEDUsRequest) error
}

// EDU types exchanged with other servers.
const (
	EDUTyping         = "m.typing"
	EDUReceipt        = "m.receipt"
	EDUDirectToDevice = "m.direct_to_device"
	EDUPresence       = "m.presence"
)

// FederationEDU is one EDU as a transaction carries it.
type FederationEDU struct {
	Type    string          `json:"edu_type"`
	Content json.RawMessage `json:"content"`
}

// InputFederationEDUsRequest is the EDUs of one PUT /send.
type InputFederationEDUsRequest struct {
	Origin string          `json:"origin"`
	EDUs   []FederationEDU `json:"edus"`
}

// OutputFederationEDU is one topic 5 record: an EDU for the servers in Destinations
// (never this one). ID is the eduserver's own position on topic 5 (dense, from its own
// counter): a federationsender that sees it twice queues it once. Keys: the room ID
// (typing, receipts), the user ID (presence), the destination (to-device).
type OutputFederationEDU struct {
	ID           int64         `json:"id"`
	Destinations []string      `json:"destinations"`
	EDU          FederationEDU `json:"edu"`
}

// Ephemeral reports whether an EDU of this type may be dropped rather than sent late
// (typing and presence: only the newest state matters); receipts and to-device messages
// must arrive.
func Ephemeral(eduType string) bool { return eduType == EDUTyping || eduType == EDUPresence }
