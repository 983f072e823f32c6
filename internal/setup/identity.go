package setup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// The server identity (server name and signing key ID) is remembered where the server's
// data is, so that a start with another global.server_name is refused instead of serving
// users and rooms made under the old name (they keep it in their IDs and lose their rooms):
//
//   - in every database a process opens (OpenDatabase → sqlutil.CheckServerIdentity, the
//     table axon_server_identity in the connection's schema), so each polylith binary
//     checks the databases it uses, on SQLite and on a Postgres the components share;
//   - in the data directory (CheckDataDir, the file IdentityFileName), which the monolith
//     checks before it opens anything.
//
// A changed signing key is allowed (axon-generate-keys -force) and logged as a warning.

// IdentityFileName is the file in global.data_dir that remembers the server identity.
const IdentityFileName = "server-identity.json"

// identityFile is the file's content.
type identityFile struct {
	ServerName string `json:"server_name"`
	KeyID      string `json:"key_id,omitempty"`
}

// Identity is this process's server identity: global.server_name and the ID of the key in
// global.private_key_path when that file can be read ("" otherwise: binaries that do not
// sign need not have the key, and then the key ID is neither compared nor recorded).
func (b *Base) Identity() sqlutil.ServerIdentity {
	b.identityOnce.Do(func() {
		b.identity = sqlutil.ServerIdentity{ServerName: b.Cfg.Global.ServerName}
		if k, err := b.Cfg.SigningKey(); err == nil {
			b.identity.KeyID = string(k.ID)
		}
	})
	return b.identity
}

// checkDatabaseIdentity runs the identity check on a database OpenDatabase just opened.
func (b *Base) checkDatabaseIdentity(ctx context.Context, component, cs string, db *sqlutil.DB) error {
	id := b.Identity()
	prev, err := sqlutil.CheckServerIdentity(ctx, db, id)
	if err != nil {
		where := "database of " + component
		if path, ok := sqlitePath(cs); ok {
			where += " (" + path + ")"
		}
		return fmt.Errorf("setup: %s: %w", where, err)
	}
	if prev != "" {
		b.Logger.WithField("database", component).WithField("previous_key_id", prev).WithField("key_id", id.KeyID).
			Warn("the signing key changed since this database was last used: remote servers must fetch the new key")
	}
	return nil
}

// CheckDataDir compares the server identity with the one global.data_dir remembers in
// IdentityFileName: another server name is an error that names both. It writes nothing:
// record, called once the process has opened (and so checked) its databases, writes the
// file on first use and a changed key ID (logged as a warning). Writing it only then keeps
// a start that the databases refuse from leaving its name in the data directory.
func (b *Base) CheckDataDir() (record func() error, err error) {
	id := b.Identity()
	rec, err := CheckDataDirIdentity(b.Cfg.Global.DataDir, id)
	if err != nil {
		return nil, err
	}
	return func() error {
		prev, err := rec()
		if err == nil && prev != "" {
			b.Logger.WithField("previous_key_id", prev).WithField("key_id", id.KeyID).
				Warn("the signing key changed since this data directory was last used: remote servers must fetch the new key")
		}
		return err
	}, nil
}

// CheckDataDirIdentity is CheckDataDir for any directory. Another server name is an
// *sqlutil.IdentityMismatchError (wrapped). record writes the file when it is missing or
// holds another key ID, and returns that key ID ("" when there was none to replace).
func CheckDataDirIdentity(dataDir string, id sqlutil.ServerIdentity) (record func() (previousKeyID string, err error), err error) {
	if id.ServerName == "" {
		return nil, errors.New("setup: server identity without a server name")
	}
	path := filepath.Join(dataDir, IdentityFileName)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return func() (string, error) {
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				return "", fmt.Errorf("setup: data directory: %w", err)
			}
			err := writeIdentityFile(path, id, false)
			if errors.Is(err, fs.ErrExist) { // another process wrote it first: compare
				rec, err := CheckDataDirIdentity(dataDir, id)
				if err != nil {
					return "", err
				}
				return rec()
			}
			return "", err
		}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	var stored identityFile
	if err := json.Unmarshal(raw, &stored); err != nil || stored.ServerName == "" {
		return nil, fmt.Errorf("setup: %s is damaged (want {\"server_name\": …}); fix it by hand: it guards the data directory against another server name", path)
	}
	if stored.ServerName != id.ServerName {
		return nil, fmt.Errorf("setup: data directory %s (%s): %w", dataDir, IdentityFileName,
			&sqlutil.IdentityMismatchError{Stored: stored.ServerName, Configured: id.ServerName})
	}
	if id.KeyID == "" || id.KeyID == stored.KeyID {
		return func() (string, error) { return "", nil }, nil
	}
	return func() (string, error) {
		if err := writeIdentityFile(path, id, true); err != nil {
			return "", err
		}
		return stored.KeyID, nil
	}, nil
}

// writeIdentityFile writes the identity to path, complete or not at all: into a temporary
// file first, then linked to path when it must be new (failing with fs.ErrExist if another
// process made it meanwhile) or renamed over the old one with replace.
func writeIdentityFile(path string, id sqlutil.ServerIdentity, replace bool) error {
	raw, err := json.MarshalIndent(identityFile{ServerName: id.ServerName, KeyID: id.KeyID}, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+IdentityFileName+".*")
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, werr := f.Write(append(raw, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		if replace {
			werr = os.Rename(tmp, path)
		} else if werr = os.Link(tmp, path); errors.Is(werr, fs.ErrExist) {
			return werr
		}
	}
	if werr != nil {
		return fmt.Errorf("setup: writing %s: %w", path, werr)
	}
	return nil
}
