package storage

import (
	"context"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// DeviceRow is one row of userapi_devices (without the token hash, which is never read back).
type DeviceRow struct {
	Localpart   string
	DeviceID    string
	DisplayName string
	CreatedTS   int64
	LastSeenTS  int64
	LastSeenIP  string
}

// TokenDevice is what an access-token lookup returns: the device and its account's type.
type TokenDevice struct {
	DeviceRow
	AccountType int
}

// InsertDevice creates a device with a new token hash. It returns false (and writes nothing)
// if the user already has a device with that ID.
func InsertDevice(ctx context.Context, q sqlutil.Querier, d *DeviceRow, tokenHash string) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO userapi_devices
		(localpart, device_id, display_name, access_token_hash, created_ts, last_seen_ts, last_seen_ip)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (localpart, device_id) DO NOTHING`,
		d.Localpart, d.DeviceID, d.DisplayName, tokenHash, d.CreatedTS, d.LastSeenTS, d.LastSeenIP)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReplaceDeviceToken gives an existing device a new token hash (the old token stops
// working), records the login as its last sighting, and sets its display name if
// displayName is not empty. It returns the old token hash, or ErrNotFound.
func ReplaceDeviceToken(ctx context.Context, q sqlutil.Querier, localpart, deviceID, displayName, tokenHash string, ts int64, ip string) (string, error) {
	var old string
	if err := q.QueryRowContext(ctx, `SELECT access_token_hash FROM userapi_devices WHERE localpart = $1 AND device_id = $2`,
		localpart, deviceID).Scan(&old); err != nil {
		return "", notFound(err)
	}
	_, err := q.ExecContext(ctx, `UPDATE userapi_devices SET access_token_hash = $3, last_seen_ts = $4, last_seen_ip = $5,
		display_name = CASE WHEN $6 = '' THEN display_name ELSE $6 END
		WHERE localpart = $1 AND device_id = $2`, localpart, deviceID, tokenHash, ts, ip, displayName)
	return old, err
}

// SelectDeviceByTokenHash is the hot path of every authenticated request: one lookup
// through the unique token-hash index, joined to the account's primary key.
func SelectDeviceByTokenHash(ctx context.Context, q sqlutil.Querier, tokenHash string) (*TokenDevice, error) {
	var d TokenDevice
	err := q.QueryRowContext(ctx, `SELECT d.localpart, d.device_id, d.display_name, d.created_ts, d.last_seen_ts, d.last_seen_ip, a.account_type
		FROM userapi_devices d JOIN userapi_accounts a ON a.localpart = d.localpart
		WHERE d.access_token_hash = $1`, tokenHash).
		Scan(&d.Localpart, &d.DeviceID, &d.DisplayName, &d.CreatedTS, &d.LastSeenTS, &d.LastSeenIP, &d.AccountType)
	if err != nil {
		return nil, notFound(err)
	}
	return &d, nil
}

// SelectDevice returns one device of a user, or ErrNotFound.
func SelectDevice(ctx context.Context, q sqlutil.Querier, localpart, deviceID string) (*DeviceRow, error) {
	d := DeviceRow{Localpart: localpart, DeviceID: deviceID}
	err := q.QueryRowContext(ctx, `SELECT display_name, created_ts, last_seen_ts, last_seen_ip
		FROM userapi_devices WHERE localpart = $1 AND device_id = $2`, localpart, deviceID).
		Scan(&d.DisplayName, &d.CreatedTS, &d.LastSeenTS, &d.LastSeenIP)
	if err != nil {
		return nil, notFound(err)
	}
	return &d, nil
}

// SelectDevices returns every device of a user, ordered by device ID.
func SelectDevices(ctx context.Context, q sqlutil.Querier, localpart string) ([]DeviceRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT device_id, display_name, created_ts, last_seen_ts, last_seen_ip
		FROM userapi_devices WHERE localpart = $1 ORDER BY device_id`, localpart)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeviceRow
	for rows.Next() {
		d := DeviceRow{Localpart: localpart}
		if err := rows.Scan(&d.DeviceID, &d.DisplayName, &d.CreatedTS, &d.LastSeenTS, &d.LastSeenIP); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// UpdateDeviceDisplayName renames a device; ErrNotFound if it does not exist.
func UpdateDeviceDisplayName(ctx context.Context, q sqlutil.Querier, localpart, deviceID, displayName string) error {
	res, err := q.ExecContext(ctx, `UPDATE userapi_devices SET display_name = $3 WHERE localpart = $1 AND device_id = $2`,
		localpart, deviceID, displayName)
	return affectedOne(res, err)
}

// UpdateDeviceLastSeen records a sighting of the device, but only if the stored one is older
// than olderThan, so a burst of requests writes at most once.
func UpdateDeviceLastSeen(ctx context.Context, q sqlutil.Querier, localpart, deviceID string, ts int64, ip string, olderThan int64) error {
	_, err := q.ExecContext(ctx, `UPDATE userapi_devices SET last_seen_ts = $3, last_seen_ip = $4
		WHERE localpart = $1 AND device_id = $2 AND last_seen_ts < $5`, localpart, deviceID, ts, ip, olderThan)
	return err
}

// DeleteDevice removes one device and its token. It returns the token hash of the removed
// device, or "" if there was none.
func DeleteDevice(ctx context.Context, q sqlutil.Querier, localpart, deviceID string) (string, error) {
	var h string
	err := q.QueryRowContext(ctx, `DELETE FROM userapi_devices WHERE localpart = $1 AND device_id = $2
		RETURNING access_token_hash`, localpart, deviceID).Scan(&h)
	if err = notFound(err); err == ErrNotFound {
		return "", nil
	}
	return h, err
}

// DeleteDevicesExcept removes every device of a user except exceptDeviceID ("" for none),
// and returns the token hashes of the removed devices.
func DeleteDevicesExcept(ctx context.Context, q sqlutil.Querier, localpart, exceptDeviceID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `DELETE FROM userapi_devices WHERE localpart = $1 AND device_id <> $2
		RETURNING access_token_hash`, localpart, exceptDeviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
