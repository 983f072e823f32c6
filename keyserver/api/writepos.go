package api

import "context"

// WritePositionAPI is read-your-writes for topic 7 (syncapi → keyserver, arrow 16; see
// docs/wiring.md, "Read your own writes"): a client that uploaded keys, cross-signing keys
// or signatures sees its change in the next /sync's device_lists.changed.
type WritePositionAPI interface {
	// QueryWritePosition returns the topic 7 position of the newest committed change a
	// read by userID must reflect: changes of userID's own keys and changes whose audience
	// includes userID (a signature they made of another user's master key). Unknown users
	// are not an error: the answer then covers every change made before the keyserver
	// started.
	QueryWritePosition(ctx context.Context, userID string) (int64, error)
}
