package internal

import (
	"context"

	"github.com/sirupsen/logrus"

	keyapi "github.com/axon-matrix/axon/keyserver/api"
)

// addKeyCounts fills the requesting device's device_one_time_keys_count and
// device_unused_fallback_key_types with one keyserver call per /sync answer (arrow 16,
// syncapi → keyserver; numbered as docs/wiring.md, "Arrows from 14 on"), made after any
// long-poll wait so the counts are current. Count changes do not wake a long-poll.
//
// Without a keyserver, or when it fails, both fields are left out: a client reads a
// missing count as unknown, while a zero would make it upload keys.
func (s *Syncer) addKeyCounts(ctx context.Context, req *SyncRequest, resp *SyncResponse) {
	resp.DeviceOneTimeKeysCount = nil
	if s.KeyAPI == nil || req.DeviceID == "" {
		return
	}
	c, err := s.KeyAPI.QueryKeyCounts(ctx, &keyapi.QueryKeyCountsRequest{UserID: req.UserID, DeviceID: req.DeviceID})
	if err != nil {
		if ctx.Err() == nil {
			logrus.WithError(err).WithField("user_id", req.UserID).Warn("syncapi: key counts unavailable; /sync answers without them")
		}
		return
	}
	types := c.UnusedFallbackKeyTypes
	if types == nil {
		types = []string{}
	}
	resp.DeviceOneTimeKeysCount, resp.DeviceUnusedFallbackKeyTypes = c.OneTimeKeyCounts, &types
}
