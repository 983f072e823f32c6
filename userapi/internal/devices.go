package internal

import (
	"context"
	"database/sql"
	"errors"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/storage"
)

// maxDeviceIDLength bounds client-chosen device IDs (Synapse allows 512 characters).
const maxDeviceIDLength = 512

func (u *UserAPI) toDevice(r *storage.DeviceRow, t api.AccountType) api.Device {
	return api.Device{
		UserID:      u.userID(r.Localpart),
		DeviceID:    r.DeviceID,
		DisplayName: r.DisplayName,
		LastSeenTS:  r.LastSeenTS,
		LastSeenIP:  r.LastSeenIP,
		AccountType: t,
	}
}

// CreateDevice logs a user in on a device and returns it with its new access token. A
// given DeviceID that the user already has is reused: its old token stops working at once
// and its display name is kept unless a new one is given. An empty DeviceID gets a fresh
// random one.
func (u *UserAPI) CreateDevice(ctx context.Context, req *api.CreateDeviceRequest) (*api.Device, error) {
	local, err := u.localpartOf(req.UserID)
	if err != nil {
		return nil, err
	}
	if len(req.DeviceID) > maxDeviceIDLength {
		return nil, httputil.InvalidParam("device_id is longer than %d characters", maxDeviceIDLength)
	}
	token := newAccessToken()
	hash := hashToken(token)
	now := u.nowMS()
	row := storage.DeviceRow{
		Localpart: local, DeviceID: req.DeviceID, DisplayName: req.DisplayName,
		CreatedTS: now, LastSeenTS: now, LastSeenIP: req.IP,
	}
	var acct *storage.AccountRow
	var oldHash string
	err = u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		acct, err = storage.SelectAccount(ctx, tx, local)
		if errors.Is(err, storage.ErrNotFound) {
			return httputil.NotFound("Unknown user %s", req.UserID)
		}
		if err != nil {
			return err
		}
		if acct.Deactivated {
			return httputil.Forbidden("User %s is deactivated", req.UserID)
		}
		if req.DeviceID == "" {
			for range 10 {
				row.DeviceID = newDeviceID()
				ok, err := storage.InsertDevice(ctx, tx, &row, hash)
				if err != nil || ok {
					return err
				}
			}
			return errors.New("userapi: could not find a free device ID")
		}
		ok, err := storage.InsertDevice(ctx, tx, &row, hash)
		if err != nil || ok {
			return err
		}
		oldHash, err = storage.ReplaceDeviceToken(ctx, tx, local, req.DeviceID, req.DisplayName, hash, now, req.IP)
		if err != nil {
			return err
		}
		existing, err := storage.SelectDevice(ctx, tx, local, req.DeviceID)
		if err != nil {
			return err
		}
		row = *existing
		return nil
	})
	if oldHash != "" {
		u.forgetTokens(oldHash)
	}
	if err != nil {
		return nil, err
	}
	d := u.toDevice(&row, api.AccountType(acct.AccountType))
	d.AccessToken = token
	return &d, nil
}

// QueryAccessToken returns the device of an access token, or M_UNKNOWN_TOKEN (401). This is
// the hot path of every authenticated request: a cache hit costs no query; a miss costs one
// lookup through the unique token-hash index. The device's last-seen time and IP (the IP
// comes from api.WithClientIP) are written at most once per LastSeenInterval.
func (u *UserAPI) QueryAccessToken(ctx context.Context, accessToken string) (*api.Device, error) {
	if accessToken == "" {
		return nil, httputil.UnknownToken("Unknown access token")
	}
	hash := hashToken(accessToken)
	var (
		dev storage.TokenDevice
		hit bool
		gen uint64
	)
	if u.tokens != nil {
		dev, hit, gen = u.tokens.get(hash)
	}
	if !hit {
		d, err := storage.SelectDeviceByTokenHash(ctx, u.db.DB, hash)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, httputil.UnknownToken("Unknown access token")
		}
		if err != nil {
			return nil, err
		}
		dev = *d
		if u.tokens != nil {
			u.tokens.put(hash, dev, gen)
		}
	}
	now := u.cfg.Now()
	cutoff := now.Add(-u.cfg.LastSeenInterval).UnixMilli()
	if dev.LastSeenTS < cutoff {
		ip := api.ClientIP(ctx)
		if ip == "" {
			ip = dev.LastSeenIP
		}
		// A failed write of the last sighting must not fail the request it was seen on.
		if err := storage.UpdateDeviceLastSeen(ctx, u.db.DB, dev.Localpart, dev.DeviceID, now.UnixMilli(), ip, cutoff); err != nil {
			logrus.WithError(err).WithField("device_id", dev.DeviceID).Warn("userapi: recording device last seen")
		} else {
			dev.LastSeenTS, dev.LastSeenIP = now.UnixMilli(), ip
			if u.tokens != nil {
				u.tokens.update(hash, dev)
			}
		}
	}
	d := u.toDevice(&dev.DeviceRow, api.AccountType(dev.AccountType))
	// Read-your-writes for topic 1: a map lookup (the floor is read once per process). A
	// failure only weakens the guarantee for this request, so it does not fail it.
	if pos, err := u.adWrites.Position(ctx, d.UserID); err != nil {
		logrus.WithError(err).Warn("userapi: reading the account data position")
	} else {
		d.AccountDataPos = pos
	}
	return &d, nil
}

// ListDevices returns every device of a local user, ordered by device ID.
func (u *UserAPI) ListDevices(ctx context.Context, userID string) ([]api.Device, error) {
	local, err := u.localpartOf(userID)
	if err != nil {
		return nil, err
	}
	acct, err := u.GetAccount(ctx, userID)
	if err != nil {
		return nil, err
	}
	rows, err := storage.SelectDevices(ctx, u.db.DB, local)
	if err != nil {
		return nil, err
	}
	out := make([]api.Device, 0, len(rows))
	for i := range rows {
		out = append(out, u.toDevice(&rows[i], acct.AccountType))
	}
	return out, nil
}

// GetDevice returns one device of a user, or M_NOT_FOUND.
func (u *UserAPI) GetDevice(ctx context.Context, userID, deviceID string) (*api.Device, error) {
	local, err := u.localpartOf(userID)
	if err != nil {
		return nil, err
	}
	acct, err := u.GetAccount(ctx, userID)
	if err != nil {
		return nil, err
	}
	row, err := storage.SelectDevice(ctx, u.db.DB, local, deviceID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, httputil.NotFound("Unknown device %s", deviceID)
	}
	if err != nil {
		return nil, err
	}
	d := u.toDevice(row, acct.AccountType)
	return &d, nil
}

// UpdateDevice renames a device; M_NOT_FOUND for an unknown one.
func (u *UserAPI) UpdateDevice(ctx context.Context, userID, deviceID, displayName string) error {
	local, err := u.localpartOf(userID)
	if err != nil {
		return err
	}
	err = storage.UpdateDeviceDisplayName(ctx, u.db.DB, local, deviceID, displayName)
	if errors.Is(err, storage.ErrNotFound) {
		return httputil.NotFound("Unknown device %s", deviceID)
	}
	if err == nil && u.tokens != nil {
		// Cached copies carry the old name.
		u.tokens.forgetDevice(local, deviceID)
	}
	return err
}

// DeleteDevices logs out the given devices of a user, in one transaction. Device IDs the
// user does not have are ignored (the spec's DELETE /devices does the same).
func (u *UserAPI) DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error {
	local, err := u.localpartOf(userID)
	if err != nil {
		return err
	}
	var removed []string
	err = u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		for _, id := range deviceIDs {
			h, err := storage.DeleteDevice(ctx, tx, local, id)
			if err != nil {
				return err
			}
			if h != "" {
				removed = append(removed, h)
			}
		}
		return nil
	})
	u.forgetTokens(removed...)
	return err
}

// DeleteAllDevices logs out every device of userID except exceptDeviceID ("" for none).
func (u *UserAPI) DeleteAllDevices(ctx context.Context, userID, exceptDeviceID string) error {
	local, err := u.localpartOf(userID)
	if err != nil {
		return err
	}
	removed, err := storage.DeleteDevicesExcept(ctx, u.db.DB, local, exceptDeviceID)
	u.forgetTokens(removed...)
	return err
}
