package config

import (
	"strings"
	"testing"
	"time"
)

// TestMediaKeys: the media_api defaults, values from a file, and what Validate refuses.
func TestMediaKeys(t *testing.T) {
	d := Defaults("/d").MediaAPI
	if d.MaxUploadSize != 50<<20 || d.MaxPendingUploads != 5 || d.UnusedExpiry != 24*time.Hour || d.LegacyFrozenAfter != "" {
		t.Fatalf("defaults %+v", d.MediaLimits)
	}
	if !d.LegacyFrozenAfterTime().IsZero() {
		t.Fatal("empty legacy_frozen_after is not the zero time")
	}
	if r := Defaults("/d").Global.RateLimits.MediaUpload; r != (Rate{PerSecond: 10, BurstCount: 50}) {
		t.Fatalf("media_upload default %+v", r)
	}
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error; nil: valid
	}{
		{"set", "media_api: {max_upload_size: 1000, max_pending_uploads: 1, unused_expiry: 1m, legacy_frozen_after: '2024-09-01T00:00:00Z'}", nil},
		{"zero size", "media_api: {max_upload_size: 0}", []string{"media_api.max_upload_size:"}},
		{"huge size", "media_api: {max_upload_size: 2000000000000}", []string{"media_api.max_upload_size:"}},
		{"zero pending", "media_api: {max_pending_uploads: 0}", []string{"media_api.max_pending_uploads:"}},
		{"short expiry", "media_api: {unused_expiry: 10s}", []string{"media_api.unused_expiry:"}},
		{"bad freeze", "media_api: {legacy_frozen_after: 'yesterday'}", []string{"media_api.legacy_frozen_after:", "RFC 3339"}},
		{"bad media rate", "global: {rate_limits: {media_upload: {per_second: 0, burst_count: 1}}}", []string{"global.rate_limits.media_upload.per_second:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	c, _ := Parse([]byte("media_api: {legacy_frozen_after: '2024-09-01T00:00:00Z'}"))
	if got := c.MediaAPI.LegacyFrozenAfterTime(); !got.Equal(time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("LegacyFrozenAfterTime = %v", got)
	}
}
