package internal

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/userapi/storage"
)

// compactJSON returns raw without insignificant whitespace.
func compactJSON(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// canonicalJSON re-encodes a JSON value with sorted keys, so two uploads of the same filter
// compare equal. Numbers are kept as written.
func canonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b) // encoding/json sorts map keys
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// PutFilter stores a filter (which must be a JSON object) and returns its ID: the user's
// next small integer, "0", "1", …. Uploading a filter the user already stored returns the
// existing ID, as Synapse does, so clients that upload their filter on every start do not
// grow the table.
func (u *UserAPI) PutFilter(ctx context.Context, userID string, filter json.RawMessage) (string, error) {
	local, err := u.localpartOf(userID)
	if err != nil {
		return "", err
	}
	if !isJSONObject(filter) {
		return "", httputil.BadJSON("Filter must be a JSON object")
	}
	canon, err := canonicalJSON(filter)
	if err != nil {
		return "", httputil.BadJSON("Filter must be a JSON object")
	}
	var id int64
	err = u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		exists, err := storage.LockAccount(ctx, tx, u.db.DB.Dialect, local)
		if err != nil {
			return err
		}
		if !exists {
			return httputil.NotFound("Unknown user %s", userID)
		}
		id, err = storage.SelectFilterIDByContent(ctx, tx, local, string(canon))
		if err == nil || !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		// The account row is locked, so no other upload of this user's is between the
		// MAX and the INSERT; a conflict would be a bug, not a race to retry.
		var ok bool
		id, ok, err = storage.InsertFilter(ctx, tx, local, string(canon))
		if err == nil && !ok {
			err = errors.New("userapi: filter ID already taken")
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(id, 10), nil
}

// GetFilter returns a stored filter, or M_NOT_FOUND (also for an ID that is not a number).
func (u *UserAPI) GetFilter(ctx context.Context, userID, filterID string) (json.RawMessage, error) {
	local, err := u.localpartOf(userID)
	if err != nil {
		return nil, err
	}
	id, perr := strconv.ParseInt(filterID, 10, 64)
	if perr != nil || id < 0 {
		return nil, httputil.NotFound("No such filter")
	}
	f, err := storage.SelectFilter(ctx, u.db.DB, local, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, httputil.NotFound("No such filter")
	}
	if err != nil {
		return nil, err
	}
	return json.RawMessage(f), nil
}
