package eventlog

import (
	"strconv"
	"time"
)

// HeaderStagedAt is the header in which a producer notes when it staged a message inside
// its database transaction (Unix microseconds), i.e. just before its commit. Consumers use
// it for latency metrics only (the roomserver's topic 2 records → the syncapi's stage
// timings); nothing depends on it being present or right.
const HeaderStagedAt = "axon-staged-us"

// StagedAtHeaders returns the headers that note t as the staging time.
func StagedAtHeaders(t time.Time) map[string]string {
	return map[string]string{HeaderStagedAt: strconv.FormatInt(t.UnixMicro(), 10)}
}

// StagedAt is the staging time noted in m's HeaderStagedAt, if any.
func StagedAt(m Message) (time.Time, bool) {
	v, ok := m.Headers[HeaderStagedAt]
	if !ok {
		return time.Time{}, false
	}
	us, err := strconv.ParseInt(v, 10, 64)
	if err != nil || us <= 0 {
		return time.Time{}, false
	}
	return time.UnixMicro(us), true
}
