package sqlutil_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/clientapi"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/roomserver"
	syncstorage "github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/userapi"
)

// openPath is what one polylith binary does against its database at start, up to and
// including its migrations: its own process base (its own connection pools, like a
// separate process), the database (which records the server identity), the embedded
// event log with its topics, the outbox and the component's own tables.
type openPath func(ctx context.Context, b *setup.Base, key signing.SigningKey) error

var binaries = map[string]openPath{
	// Tier 2
	config.ComponentUserAPI: func(ctx context.Context, b *setup.Base, _ signing.SigningKey) error {
		db, ob, err := openWithOutbox(ctx, b, config.ComponentUserAPI)
		if err != nil {
			return err
		}
		_, err = userapi.NewInternalAPI(db, b.Cfg.Global.ServerName, ob, b.Cfg.TopicName(eventlog.TopicAccountData),
			userapi.WithBcryptCost(4))
		return err
	},
	config.ComponentRoomServer: func(ctx context.Context, b *setup.Base, key signing.SigningKey) error {
		db, ob, err := openWithOutbox(ctx, b, config.ComponentRoomServer)
		if err != nil {
			return err
		}
		_, err = roomserver.NewInternalAPI(ctx, db, b.Cfg.Global.ServerName, string(key.ID), key.Private, ob,
			roomserver.Topics{RoomEvent: b.Cfg.TopicName(eventlog.TopicRoomEvent), Membership: b.Cfg.TopicName(eventlog.TopicMembership)})
		return err
	},
	// Tier 1
	config.ComponentClientAPI: func(ctx context.Context, b *setup.Base, _ signing.SigningKey) error {
		db, err := b.OpenDatabase(config.ComponentClientAPI)
		if err != nil {
			return err
		}
		if _, err := b.OpenEventLog(ctx); err != nil {
			return err
		}
		_, err = clientapi.New(ctx, clientapi.ConfigFromFile(b.Cfg, ":8071"), db)
		return err
	},
	config.ComponentSyncAPI: func(ctx context.Context, b *setup.Base, _ signing.SigningKey) error {
		db, err := b.OpenDatabase(config.ComponentSyncAPI)
		if err != nil {
			return err
		}
		if _, err := b.OpenEventLog(ctx); err != nil {
			return err
		}
		_, err = syncstorage.NewDatabase(ctx, db)
		return err
	},
}

func openWithOutbox(ctx context.Context, b *setup.Base, component string) (*sqlutil.DB, *outbox.Outbox, error) {
	log, err := b.OpenEventLog(ctx)
	if err != nil {
		return nil, nil, err
	}
	db, err := b.OpenDatabase(component)
	if err != nil {
		return nil, nil, err
	}
	ob, err := outbox.NewOutbox(db, component, log.Producer())
	return db, ob, err
}

// TestMigrateConcurrentBinaries starts every built Tier 1 and Tier 2 component's
// open-and-migrate path at the same moment against one Postgres database, 20 times, each
// round on a fresh schema (the connection's search_path), as the polylith's binaries do
// when they start together on a new database. Without the migration lock this failed in
// most rounds (a unique violation on pg_type from concurrent CREATE TABLE IF NOT EXISTS,
// or a duplicate migration row).
func TestMigrateConcurrentBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dsn := testenv.PostgresDSN(t)
	admin, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	key, err := signing.GenerateKey("race", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for round := range 20 {
		schema := fmt.Sprintf("round_%d", round)
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		roundDSN := withSearchPath(t, dsn, schema)

		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, len(binaries))
		for name, open := range binaries {
			cfg := config.Defaults(t.TempDir())
			cfg.Global.ServerName = "race.example"
			cfg.Global.Database.ConnectionString = roundDSN
			cfg.Global.Logging.Level = "warn"
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			b, err := setup.NewBase(cfg, name)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { _ = b.Shutdown(context.Background()) }()
				<-start
				if err := open(ctx, b, key); err != nil {
					errs <- fmt.Errorf("round %d, %s: %w", round, name, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
		// Every component's migrations are recorded once, in the round's schema.
		var n int
		if err := admin.QueryRowContext(ctx, "SELECT COUNT(DISTINCT component) FROM "+schema+".axon_schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		// userapi, roomserver, clientapi, syncapi, two outboxes, the event log, the identity.
		if n < 7 {
			t.Fatalf("round %d: %d components migrated, want at least 7", round, n)
		}
	}
}

// withSearchPath adds the search_path run-time parameter to a Postgres DSN (URL or
// key=value form), so every table the connection creates goes into schema.
func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
