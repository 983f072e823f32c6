// Package api is the eduserver's contract: arrow 6 (clientapi → eduserver: typing,
// receipts, presence and send-to-device of local users), arrow 5 (federationapi →
// eduserver: the EDUs of other servers, federation.go), arrow 18 (syncapi → eduserver:
// set_presence and read-your-writes, presence.go), the topic 3 record (eduserver →
// syncapi) that carries the outcome to every sync instance and the topic 5 record
// (eduserver → federationsender). Numbers as docs/wiring.md.
package api

import (
	"context"
	"encoding/json"
	"time"
)

// EDUServerAPI is implemented by eduserver/internal (direct, the monolith) and
// eduserver/inthttp.Client (the polylith). Errors are *httputil.MatrixError where the
// caller's request was at fault.
type EDUServerAPI interface {
	// SetTyping starts (Typing true, for Timeout) or stops a user's typing in a room. The
	// caller has checked that the user is joined. Stopping a user who is not typing changes
	// nothing and stages nothing.
	SetTyping(ctx context.Context, req *SetTypingRequest) error
	// SetReceipt stores a user's receipt of one type in a room (per thread) and stages it
	// on topic 3. An older receipt than the stored one is still stored: clients may move a
	// receipt backwards (the spec leaves it to them).
	SetReceipt(ctx context.Context, req *SetReceiptRequest) error
	// SendToDevice delivers messages to devices, once per (sender, sender device, txn ID):
	// a repeated transaction is a no-op. The caller has resolved "*" to the target's
	// devices.
	SendToDevice(ctx context.Context, req *SendToDeviceRequest) error
	// PresenceAPI: presence and the read-your-writes position (presence.go).
	PresenceAPI
	// FederationAPI: EDUs from other servers (arrow 5, federation.go).
	FederationAPI
}

// Typing timeouts: a request without one, or with more than MaxTypingTimeout, is cut to
// these.
const (
	DefaultTypingTimeout = 30 * time.Second
	MaxTypingTimeout     = 120 * time.Second
)

// MaxToDeviceMessageSize bounds one to-device message's content in bytes: larger ones are
// refused with 413 M_TOO_LARGE. The spec sets no number; this is its event size limit, and
// it keeps every topic 3 record small.
const MaxToDeviceMessageSize = 65536

// Receipt types.
const (
	ReceiptRead        = "m.read"
	ReceiptReadPrivate = "m.read.private"
)

// SetTypingRequest is one PUT /rooms/{roomId}/typing/{userId}.
type SetTypingRequest struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
	Typing bool   `json:"typing"`
	// TimeoutMS is how long the typing lasts without a renewal (0: DefaultTypingTimeout;
	// capped at MaxTypingTimeout).
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// SetReceiptRequest is one receipt: POST /rooms/{roomId}/receipt/{receiptType}/{eventId}
// or a receipt of POST /rooms/{roomId}/read_markers.
type SetReceiptRequest struct {
	RoomID  string `json:"room_id"`
	UserID  string `json:"user_id"`
	Type    string `json:"type"` // ReceiptRead or ReceiptReadPrivate
	EventID string `json:"event_id"`
	// ThreadID is the spec's thread_id: "" (unthreaded), "main" or a thread root event ID.
	ThreadID string `json:"thread_id,omitempty"`
	// TS is when the receipt was made (ms; 0: now). Set for receipts from other servers.
	TS int64 `json:"ts,omitempty"`
}

// SendToDeviceRequest is one PUT /sendToDevice/{eventType}/{txnId}, resolved to devices.
type SendToDeviceRequest struct {
	Sender       string `json:"sender"`
	SenderDevice string `json:"sender_device"`
	TxnID        string `json:"txn_id"`
	Type         string `json:"type"`
	// Messages are the contents by user ID and device ID (local users only for now).
	Messages map[string]map[string]json.RawMessage `json:"messages"`
}
