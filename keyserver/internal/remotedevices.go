package internal

import (
	"context"

	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/storage"
	"github.com/axon-matrix/axon/matrix"
)

// InputDeviceListUpdates implements api.KeyServerAPI (arrow 15: /send's
// m.device_list_update EDUs, handed over by the federationapi). A server speaks only for
// its own users; this server's users, malformed updates and old stream_ids are dropped.
// Each new update is staged on topic 7 (storage/remotedevices.go), which the syncapi turns
// into device_lists.changed for the users sharing a room with the remote user; the keys
// themselves are not kept: /keys/query asks the user's server (arrow 20).
func (k *KeyServer) InputDeviceListUpdates(ctx context.Context, req *api.InputDeviceListUpdatesRequest) error {
	staged := false
	for _, u := range req.Updates {
		server, ok := matrix.ServerNameOf(u.UserID)
		if !ok || !matrix.ValidUserID(u.UserID) || server != req.Origin || server == k.serverName || u.DeviceID == "" || u.StreamID <= 0 {
			k.log().WithField("origin", req.Origin).WithField("user_id", u.UserID).Info("dropping an m.device_list_update")
			continue
		}
		var recorded bool
		err := k.tracked(ctx, func(ctx context.Context) (err error) {
			recorded, err = k.db.RecordRemoteDeviceUpdate(ctx, storage.RemoteDeviceUpdate{UserID: u.UserID, DeviceID: u.DeviceID,
				StreamID: u.StreamID, Deleted: u.Deleted})
			return err
		})
		if err != nil {
			return err
		}
		staged = staged || recorded
		if k.caching() {
			if err := k.applyToCache(ctx, u); err != nil {
				return err
			}
		}
	}
	for _, su := range req.SigningKeyUpdates {
		if err := k.inputSigningKeyUpdate(ctx, req.Origin, su); err != nil {
			return err
		}
		staged = true
	}
	if staged {
		k.kick()
	}
	return nil
}
