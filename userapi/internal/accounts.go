package internal

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"golang.org/x/crypto/bcrypt"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/storage"
)

// bcryptMaxBytes is bcrypt's input limit. Longer passwords are cut to it, which is what
// bcrypt has always done and what hashes imported from Synapse expect.
const bcryptMaxBytes = 72

// burnPasswordCheck compares password against a hash of the configured cost that matches
// nothing, so a check for an unknown or deactivated user takes as long as a wrong password
// and the timing does not tell which localparts exist.
func (u *UserAPI) burnPasswordCheck(password string) {
	u.dummyOnce.Do(func() {
		u.dummyHash, _ = bcrypt.GenerateFromPassword(passwordBytes(newAccessToken()), u.cfg.BcryptCost)
	})
	_ = bcrypt.CompareHashAndPassword(u.dummyHash, passwordBytes(password))
}

func passwordBytes(pw string) []byte {
	b := []byte(pw)
	if len(b) > bcryptMaxBytes {
		b = b[:bcryptMaxBytes]
	}
	return b
}

func (u *UserAPI) hashPassword(pw string) (string, error) {
	if pw == "" {
		return "", nil
	}
	h, err := bcrypt.GenerateFromPassword(passwordBytes(pw), u.cfg.BcryptCost)
	return string(h), err
}

func validAccountType(t api.AccountType) bool {
	return t >= api.AccountTypeUser && t <= api.AccountTypeAppService
}

func (u *UserAPI) toAccount(r *storage.AccountRow) *api.Account {
	return &api.Account{
		UserID:      u.userID(r.Localpart),
		Localpart:   r.Localpart,
		AccountType: api.AccountType(r.AccountType),
		Deactivated: r.Deactivated,
		CreatedTS:   r.CreatedTS,
	}
}

// CreateAccount creates an account and its profile in one transaction. A guest account
// with an empty localpart gets the next free numeric one, as Synapse does. A zero
// AccountType means AccountTypeUser.
func (u *UserAPI) CreateAccount(ctx context.Context, req *api.CreateAccountRequest) (*api.Account, error) {
	accountType := req.AccountType
	if accountType == 0 {
		accountType = api.AccountTypeUser
	}
	if !validAccountType(accountType) {
		return nil, httputil.InvalidParam("Unknown account type %d", accountType)
	}
	guest := accountType == api.AccountTypeGuest
	appservice := accountType == api.AccountTypeAppService
	if req.Localpart != "" || !guest {
		if err := u.checkLocalpart(req.Localpart, guest, appservice); err != nil {
			return nil, err
		}
		if u.reserved[req.Localpart] && !appservice {
			return nil, httputil.UserInUse("User ID is reserved")
		}
	}
	hash, err := u.hashPassword(req.Password) // outside the transaction: bcrypt is slow
	if err != nil {
		return nil, err
	}
	row := &storage.AccountRow{
		Localpart:    req.Localpart,
		PasswordHash: hash,
		AccountType:  int(accountType),
		CreatedTS:    u.nowMS(),
	}
	err = u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		if req.RegistrationTokenSession != "" {
			if err := completeRegistrationToken(ctx, tx, req.RegistrationTokenSession); err != nil {
				return err
			}
		}
		if row.Localpart == "" {
			if err := u.insertGuest(ctx, tx, row); err != nil {
				return err
			}
		} else {
			ok, err := storage.InsertAccount(ctx, tx, row)
			if err != nil {
				return err
			}
			if !ok {
				return httputil.UserInUse("User ID already taken")
			}
		}
		displayName := req.DisplayName
		if displayName == "" {
			displayName = row.Localpart
		}
		return storage.InsertProfile(ctx, tx, &storage.ProfileRow{Localpart: row.Localpart, DisplayName: displayName})
	})
	if err != nil {
		return nil, err
	}
	return u.toAccount(row), nil
}

// insertGuest gives row the next free numeric localpart and inserts it.
func (u *UserAPI) insertGuest(ctx context.Context, tx *sql.Tx, row *storage.AccountRow) error {
	for range 1000 {
		n, err := storage.NextCounter(ctx, tx, "guest_localpart")
		if err != nil {
			return err
		}
		row.Localpart = strconv.FormatInt(n, 10)
		ok, err := storage.InsertAccount(ctx, tx, row)
		if err != nil || ok {
			return err
		}
	}
	return errors.New("userapi: no free guest localpart")
}

// LocalpartAvailable is false for a localpart that is taken (also by a deactivated account:
// localparts are never reused) or reserved; an invalid localpart is M_INVALID_USERNAME.
func (u *UserAPI) LocalpartAvailable(ctx context.Context, localpart string) (bool, error) {
	if err := u.checkLocalpart(localpart, false, false); err != nil {
		return false, err
	}
	if u.reserved[localpart] {
		return false, nil
	}
	exists, err := storage.AccountExists(ctx, u.db.DB, localpart)
	return !exists, err
}

// GetAccount returns a local account (also a deactivated one), or M_NOT_FOUND.
func (u *UserAPI) GetAccount(ctx context.Context, userID string) (*api.Account, error) {
	local, err := u.localpartOf(userID)
	if err != nil {
		return nil, err
	}
	row, err := storage.SelectAccount(ctx, u.db.DB, local)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, httputil.NotFound("Unknown user %s", userID)
	}
	if err != nil {
		return nil, err
	}
	return u.toAccount(row), nil
}

// CheckPassword returns the account if password is right. Wrong password, unknown user,
// deactivated user and account without password all give the same M_FORBIDDEN.
func (u *UserAPI) CheckPassword(ctx context.Context, userID, password string) (*api.Account, error) {
	forbidden := httputil.Forbidden("Invalid username or password")
	local, err := u.localpartOf(userID)
	if err != nil {
		u.burnPasswordCheck(password)
		return nil, forbidden
	}
	row, err := storage.SelectAccount(ctx, u.db.DB, local)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if row == nil || row.Deactivated || row.PasswordHash == "" {
		u.burnPasswordCheck(password)
		return nil, forbidden
	}
	if bcrypt.CompareHashAndPassword([]byte(row.PasswordHash), passwordBytes(password)) != nil {
		return nil, forbidden
	}
	return u.toAccount(row), nil
}

// SetPassword changes an active account's password; with logoutDevices it also removes every
// device but exceptDeviceID, in the same transaction.
func (u *UserAPI) SetPassword(ctx context.Context, userID, newPassword string, logoutDevices bool, exceptDeviceID string) error {
	local, err := u.localpartOf(userID)
	if err != nil {
		return err
	}
	hash, err := u.hashPassword(newPassword)
	if err != nil {
		return err
	}
	var removed []string
	err = u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		if err := storage.UpdatePasswordHash(ctx, tx, local, hash); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return httputil.NotFound("Unknown user %s", userID)
			}
			return err
		}
		if logoutDevices {
			removed, err = storage.DeleteDevicesExcept(ctx, tx, local, exceptDeviceID)
		}
		return err
	})
	u.forgetTokens(removed...)
	return err
}

// DeactivateAccount marks the account deactivated, removes its password and every device
// and token, in one transaction. Like Synapse, it keeps the profile, account data and
// filters (erasing them is a separate, explicit step), and the localpart stays taken.
func (u *UserAPI) DeactivateAccount(ctx context.Context, userID string) error {
	local, err := u.localpartOf(userID)
	if err != nil {
		return err
	}
	var removed []string
	err = u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		if err := storage.DeactivateAccount(ctx, tx, local); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return httputil.NotFound("Unknown or already deactivated user %s", userID)
			}
			return err
		}
		removed, err = storage.DeleteDevicesExcept(ctx, tx, local, "")
		return err
	})
	u.forgetTokens(removed...)
	return err
}
