// Package testenv gives tests the real services the test scripts start: a Postgres server
// (AXON_TEST_POSTGRES_DSN, a DSN of a role that may CREATE DATABASE) and a Kafka broker
// (AXON_TEST_KAFKA_BROKERS, comma-separated host:port). scripts/test.sh starts both and sets
// the variables. Outside CI a test whose service is missing is skipped with a message that
// says how to get it; in CI (CI=true) it fails: a missing service never passes silently.
package testenv

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

var dbCounter atomic.Int64

func missing(t testing.TB, what string) {
	t.Helper()
	msg := fmt.Sprintf("%s is not set: run the suite through scripts/test.sh, which starts the service", what)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// PostgresDSN creates a fresh, empty database for this test on the test Postgres server and
// returns its DSN. The database is dropped when the test ends.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("AXON_TEST_POSTGRES_DSN")
	if base == "" {
		missing(t, "AXON_TEST_POSTGRES_DSN")
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("testenv: open postgres: %v", err)
	}
	defer admin.Close()
	name := fmt.Sprintf("axon_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, dbCounter.Add(1))
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("postgres", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return withDBName(t, base, name)
}

func withDBName(t testing.TB, base, name string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("testenv: bad AXON_TEST_POSTGRES_DSN: %v", err)
		}
		u.Path = "/" + name
		return u.String()
	}
	fields := strings.Fields(base)
	out := make([]string, 0, len(fields)+1)
	for _, f := range fields {
		if !strings.HasPrefix(f, "dbname=") {
			out = append(out, f)
		}
	}
	return strings.Join(append(out, "dbname="+name), " ")
}

// KafkaBrokers returns the test Kafka broker addresses.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	v := os.Getenv("AXON_TEST_KAFKA_BROKERS")
	if v == "" {
		missing(t, "AXON_TEST_KAFKA_BROKERS")
	}
	return strings.Split(v, ",")
}

// SQLitePath returns a path for a fresh SQLite database file in the test's temp dir.
func SQLitePath(t testing.TB, name string) string {
	t.Helper()
	return "file:" + t.TempDir() + "/" + name + ".db"
}

// Databases returns the connection strings a storage test should run against: SQLite
// always, Postgres when the server is available (and always in CI). Use it table-driven:
//
//	for name, dsn := range testenv.Databases(t) { t.Run(name, ...) }
func Databases(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return SQLitePath(t, "test") },
		"postgres": func(t *testing.T) string { return PostgresDSN(t) },
	}
}
