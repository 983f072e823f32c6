package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/userapi"
	userapiapi "github.com/axon-matrix/axon/userapi/api"
)

// createDirect creates the account in the userapi's database through the userapi's own
// code, as the server would. The database is opened through setup, so it is refused when
// it was made for another server name. A server may be running on the same database
// meanwhile (SQLite waits for its writer; Postgres is shared anyway).
func createDirect(ctx context.Context, cfg *config.Config, acc account) (string, error) {
	users, closeDB, err := openUserAPI(cfg)
	if err != nil {
		return "", err
	}
	defer closeDB()
	typ := userapiapi.AccountTypeUser
	if acc.admin {
		typ = userapiapi.AccountTypeAdmin
	}
	a, err := users.CreateAccount(ctx, &userapiapi.CreateAccountRequest{Localpart: acc.localpart, Password: acc.password,
		AccountType: typ, DisplayName: acc.displayName})
	if err != nil {
		return "", explain(asMatrixError(err))
	}
	return a.UserID, nil
}

// openUserAPI opens the userapi over the database cfg names, as the server does, through
// setup (so the database's server identity is checked); closeDB closes it again.
func openUserAPI(cfg *config.Config) (users userapiapi.UserAPI, closeDB func(), err error) {
	cfg.Global.Logging.Level = "warn" // the tool's own output is enough
	base, err := setup.NewBase(cfg, "axon-create-account")
	if err != nil {
		return nil, nil, err
	}
	closeDB = func() { _ = base.Shutdown(context.Background()) }
	db, err := base.OpenDatabase(config.ComponentUserAPI)
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	// The userapi stages its topic 1 messages in its outbox table; the server's own relay
	// publishes them. Creating an account stages none, and this process never relays.
	ob, err := outbox.NewOutbox(db, config.ComponentUserAPI, notRelayed{})
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	users, err = userapi.NewInternalAPI(db, cfg.Global.ServerName, ob, cfg.TopicName(eventlog.TopicAccountData),
		userapi.WithBcryptCost(cfg.UserAPI.BcryptCost))
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	return users, closeDB, nil
}

// notRelayed is the producer of an outbox this process never relays (it never calls Run):
// what is staged stays in the table for the server's relay.
type notRelayed struct{}

func (notRelayed) Publish(context.Context, ...eventlog.Message) error {
	return errors.New("axon-create-account does not relay the outbox: the server does")
}

func (notRelayed) Close() error { return nil }

// asMatrixError turns the userapi's Matrix errors into the form the remote path gets, so
// explain treats refusals alike either way.
func asMatrixError(err error) error {
	var me *httputil.MatrixError
	if errors.As(err, &me) {
		return &matrixError{Status: me.Status, ErrCode: me.ErrCode, Err: me.Err}
	}
	return fmt.Errorf("creating the account: %w", err)
}
