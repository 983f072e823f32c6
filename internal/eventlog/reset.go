package eventlog

import "fmt"

// OffsetReset says where a consumer group starts reading a partition when it has no usable
// committed offset: a new group, or a committed offset out of the log's range because the
// messages were deleted by retention or the topic was deleted and recreated (Dendrite's issue
// #1673, where consumers then failed for good). Both backends follow it; docs/eventlog.md.
type OffsetReset string

const (
	// ResetEarliest starts at the oldest message still in the log: nothing that is still
	// there is skipped; already-handled messages may be replayed (handlers are idempotent).
	// The default.
	ResetEarliest OffsetReset = "earliest"
	// ResetLatest starts after the newest message: only messages published from then on are
	// delivered.
	ResetLatest OffsetReset = "latest"
)

// ParseOffsetReset parses a config value; "" means ResetEarliest.
func ParseOffsetReset(s string) (OffsetReset, error) {
	switch OffsetReset(s) {
	case "", ResetEarliest:
		return ResetEarliest, nil
	case ResetLatest:
		return ResetLatest, nil
	}
	return "", fmt.Errorf("eventlog: unknown offset reset policy %q (want %q or %q)", s, ResetEarliest, ResetLatest)
}
