package eventlog

import (
	"testing"
	"time"
)

func TestStagedAt(t *testing.T) {
	at := time.UnixMicro(1_700_000_000_123_456)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    time.Time
		ok      bool
	}{
		{"stamped", StagedAtHeaders(at), at, true},
		{"no headers", nil, time.Time{}, false},
		{"other header", map[string]string{"h": "1"}, time.Time{}, false},
		{"not a number", map[string]string{HeaderStagedAt: "soon"}, time.Time{}, false},
		{"zero", map[string]string{HeaderStagedAt: "0"}, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := StagedAt(Message{Headers: tc.headers})
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Fatalf("StagedAt = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
