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
	if len(d.ThumbnailSizes) != 5 || d.ThumbnailSizes[0] != (ThumbnailSize{32, 32, "crop"}) || d.ThumbnailSizes[4] != (ThumbnailSize{800, 600, "scale"}) ||
		d.MaxThumbnailPixels != 32_000_000 || d.URLPreview != (URLPreview{MaxResponseSize: 10 << 20, Timeout: 10 * time.Second, CacheDuration: time.Hour}) {
		t.Fatalf("thumbnail and preview defaults %+v", d.MediaLimits)
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
		{"sizes and previews", "media_api: {thumbnail_sizes: [{width: 10, height: 20, method: crop}], max_thumbnail_pixels: 1000, url_preview: {enabled: true, max_response_size: 2048, timeout: 2s, cache_duration: 0s}}", nil},
		{"no sizes", "media_api: {thumbnail_sizes: []}", []string{"media_api.thumbnail_sizes:"}},
		{"zero side", "media_api: {thumbnail_sizes: [{width: 0, height: 20, method: crop}]}", []string{"media_api.thumbnail_sizes[0]:"}},
		{"huge side", "media_api: {thumbnail_sizes: [{width: 32, height: 32, method: crop}, {width: 5000, height: 20, method: crop}]}", []string{"media_api.thumbnail_sizes[1]:"}},
		{"bad method", "media_api: {thumbnail_sizes: [{width: 10, height: 20, method: stretch}]}", []string{"media_api.thumbnail_sizes[0].method:"}},
		{"zero pixels", "media_api: {max_thumbnail_pixels: 0}", []string{"media_api.max_thumbnail_pixels:"}},
		{"tiny preview size", "media_api: {url_preview: {max_response_size: 10}}", []string{"media_api.url_preview.max_response_size:"}},
		{"short preview timeout", "media_api: {url_preview: {timeout: 10ms}}", []string{"media_api.url_preview.timeout:"}},
		{"negative cache", "media_api: {url_preview: {cache_duration: -1s}}", []string{"media_api.url_preview.cache_duration:"}},
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
