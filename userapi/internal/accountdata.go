package internal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/storage"
)

// maxAccountDataTypeLength bounds the type of an account-data item.
const maxAccountDataTypeLength = 255

// isJSONObject reports whether raw is one valid JSON object.
func isJSONObject(raw []byte) bool {
	if !json.Valid(raw) {
		return false
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

// SetAccountData stores an item and, in the same transaction, stages it on topic 1
// (account data → syncapi, ARCHITECTURE.md §2) through the outbox, with a stream position
// taken from the account_data counter row in that transaction: positions are dense and
// increasing, and a rejected or failed write neither stores the item nor stages a message
// nor uses up a position. The outbox relay is kicked after the commit.
func (u *UserAPI) SetAccountData(ctx context.Context, data *api.AccountData) error {
	local, err := u.localpartOf(data.UserID)
	if err != nil {
		return err
	}
	if data.Type == "" {
		return httputil.MissingParam("Account data type is missing")
	}
	if len(data.Type) > maxAccountDataTypeLength {
		return httputil.InvalidParam("Account data type is longer than %d bytes", maxAccountDataTypeLength)
	}
	if !isJSONObject(data.Content) {
		return httputil.BadJSON("Account data content must be a JSON object")
	}
	content, err := compactJSON(data.Content)
	if err != nil {
		return httputil.BadJSON("Account data content must be a JSON object")
	}
	var pos int64
	err = u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		acct, err := storage.SelectAccount(ctx, tx, local)
		if errors.Is(err, storage.ErrNotFound) {
			return httputil.NotFound("Unknown user %s", data.UserID)
		}
		if err != nil {
			return err
		}
		if acct.Deactivated {
			return httputil.Forbidden("User %s is deactivated", data.UserID)
		}
		pos, err = storage.NextCounter(ctx, tx, "account_data")
		if err != nil {
			return err
		}
		if err := storage.UpsertAccountData(ctx, tx, &storage.AccountDataRow{
			Localpart: local, RoomID: data.RoomID, Type: data.Type, Content: string(content), StreamPos: pos,
		}); err != nil {
			return err
		}
		value, err := json.Marshal(api.OutputAccountData{
			StreamPos: pos, UserID: data.UserID, RoomID: data.RoomID, Type: data.Type, Content: content,
		})
		if err != nil {
			return err
		}
		// Topic 1: account data → syncapi, keyed by user ID so a user's changes stay in order.
		return u.outbox.Stage(ctx, tx, eventlog.Message{Topic: u.topic, Key: data.UserID, Value: value})
	})
	if err != nil {
		return err
	}
	u.adWrites.Record(pos, data.UserID) // committed: read-your-writes (QueryAccessToken)
	u.outbox.Kick()
	return nil
}

// GetAccountData returns one item's content, or M_NOT_FOUND.
func (u *UserAPI) GetAccountData(ctx context.Context, userID, roomID, dataType string) (json.RawMessage, error) {
	local, err := u.localpartOf(userID)
	if err != nil {
		return nil, err
	}
	c, err := storage.SelectAccountData(ctx, u.db.DB, local, roomID, dataType)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, httputil.NotFound("Account data not found")
	}
	if err != nil {
		return nil, err
	}
	return json.RawMessage(c), nil
}

// ListAccountData returns every item of a user, global ones first.
func (u *UserAPI) ListAccountData(ctx context.Context, userID string) ([]api.AccountData, error) {
	local, err := u.localpartOf(userID)
	if err != nil {
		return nil, err
	}
	rows, err := storage.SelectAllAccountData(ctx, u.db.DB, local)
	if err != nil {
		return nil, err
	}
	out := make([]api.AccountData, 0, len(rows))
	for _, r := range rows {
		out = append(out, api.AccountData{UserID: userID, RoomID: r.RoomID, Type: r.Type, Content: json.RawMessage(r.Content)})
	}
	return out, nil
}
