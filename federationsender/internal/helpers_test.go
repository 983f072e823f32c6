package internal

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/axon-matrix/axon/federationsender/storage"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/federation/discovery"
	"github.com/axon-matrix/axon/matrix/signing"
)

const testOrigin = "origin.test"

// testClient is a federation client signing as testOrigin that accepts the self-signed
// certificates of httptest TLS servers (addressed as 127.0.0.1:PORT, so no discovery
// lookups).
func testClient(t *testing.T, key signing.SigningKey) *federation.Client {
	t.Helper()
	return federation.NewClient(testOrigin, key, discovery.New(nil, http.DefaultClient, discovery.Options{}),
		federation.ClientOptions{Transport: federation.TransportOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}}})
}

func testKey(t *testing.T, version string) signing.SigningKey {
	t.Helper()
	k, err := signing.GenerateKey(version, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// openDB opens (and migrates) the database at dsn; it is closed when the test ends.
func openDB(t *testing.T, dsn string) *storage.Database {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sdb, err := storage.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return sdb
}
