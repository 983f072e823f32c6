package storage

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix/federation/keyring"
)

func open(t *testing.T, dsn string) *Database {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), db); err != nil {
		t.Fatalf("second Open: %v", err)
	}
	return d
}

func pub(b byte) ed25519.PublicKey { return bytes.Repeat([]byte{b}, ed25519.PublicKeySize) }

func TestOwnKeys(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t, dsn(t))
			ctx := context.Background()
			steps := []struct {
				keyID string
				now   int64
				want  []OwnKey // replaced keys after the step
			}{
				{"ed25519:a", 100, nil},
				{"ed25519:a", 200, nil}, // a restart with the same key changes nothing
				{"ed25519:b", 300, []OwnKey{{"ed25519:a", pub('a'), 300}}},
				{"ed25519:c", 400, []OwnKey{{"ed25519:a", pub('a'), 300}, {"ed25519:b", pub('b'), 400}}},
				{"ed25519:a", 500, []OwnKey{{"ed25519:b", pub('b'), 400}, {"ed25519:c", pub('c'), 500}}}, // back to a
			}
			for i, s := range steps {
				got, err := d.RecordCurrentKey(ctx, s.keyID, pub(s.keyID[len(s.keyID)-1]), s.now)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(s.want) {
					t.Fatalf("step %d: %+v, want %+v", i, got, s.want)
				}
				for j := range got {
					if got[j].KeyID != s.want[j].KeyID || got[j].ExpiredTS != s.want[j].ExpiredTS || !got[j].PublicKey.Equal(s.want[j].PublicKey) {
						t.Fatalf("step %d: %+v, want %+v", i, got, s.want)
					}
				}
			}
		})
	}
}

func TestRemoteKeys(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t, dsn(t))
			ctx := context.Background()
			a := keyring.Request{ServerName: "r.example", KeyID: "ed25519:a"}
			b := keyring.Request{ServerName: "r.example", KeyID: "ed25519:b"}
			other := keyring.Request{ServerName: "o.example", KeyID: "ed25519:a"}
			stores := []struct {
				key  keyring.PublicKey
				want keyring.PublicKey // stored for that key afterwards
			}{
				{keyring.PublicKey{ServerName: "r.example", KeyID: "ed25519:a", Key: pub(1), ValidUntilTS: 1000},
					keyring.PublicKey{ServerName: "r.example", KeyID: "ed25519:a", Key: pub(1), ValidUntilTS: 1000}},
				// worse validity: kept as it was
				{keyring.PublicKey{ServerName: "r.example", KeyID: "ed25519:a", Key: pub(1), ValidUntilTS: 500},
					keyring.PublicKey{ServerName: "r.example", KeyID: "ed25519:a", Key: pub(1), ValidUntilTS: 1000}},
				// the old-key entry of the same validity wins
				{keyring.PublicKey{ServerName: "r.example", KeyID: "ed25519:a", Key: pub(1), ValidUntilTS: 1000, Expired: true},
					keyring.PublicKey{ServerName: "r.example", KeyID: "ed25519:a", Key: pub(1), ValidUntilTS: 1000, Expired: true}},
				// later validity wins
				{keyring.PublicKey{ServerName: "r.example", KeyID: "ed25519:a", Key: pub(1), ValidUntilTS: 2000},
					keyring.PublicKey{ServerName: "r.example", KeyID: "ed25519:a", Key: pub(1), ValidUntilTS: 2000}},
				{keyring.PublicKey{ServerName: "o.example", KeyID: "ed25519:a", Key: pub(2), ValidUntilTS: 7},
					keyring.PublicKey{ServerName: "o.example", KeyID: "ed25519:a", Key: pub(2), ValidUntilTS: 7}},
			}
			for i, s := range stores {
				if err := d.StoreKeys(ctx, []keyring.PublicKey{s.key}); err != nil {
					t.Fatal(err)
				}
				r := keyring.Request{ServerName: s.key.ServerName, KeyID: s.key.KeyID}
				got, err := d.LoadKeys(ctx, []keyring.Request{r})
				if err != nil {
					t.Fatal(err)
				}
				g := got[r]
				if g.ValidUntilTS != s.want.ValidUntilTS || g.Expired != s.want.Expired || !g.Key.Equal(s.want.Key) || g.ServerName != s.want.ServerName {
					t.Fatalf("store %d: loaded %+v, want %+v", i, g, s.want)
				}
			}
			got, err := d.LoadKeys(ctx, []keyring.Request{a, b, other})
			if err != nil || len(got) != 2 {
				t.Fatalf("LoadKeys = %v, %v; want a and other only", got, err)
			}
		})
	}
}

func TestResponses(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t, dsn(t))
			ctx := context.Background()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(d.StoreResponse(ctx, "r.example", []string{"ed25519:a", "ed25519:b"}, 100, []byte(`{"v":1}`)))
			must(d.StoreResponse(ctx, "r.example", []string{"ed25519:a"}, 50, []byte(`{"v":0}`))) // older: ignored
			must(d.StoreResponse(ctx, "r.example", []string{"ed25519:b"}, 200, []byte(`{"v":2}`)))
			must(d.StoreResponse(ctx, "o.example", []string{"ed25519:a"}, 1, []byte(`{"o":1}`)))
			tests := []struct {
				ids  []string
				want []string
			}{
				{nil, []string{`{"v":1}`, `{"v":2}`}},
				{[]string{"ed25519:a"}, []string{`{"v":1}`}},
				{[]string{"ed25519:b", "ed25519:x"}, []string{`{"v":2}`}},
				{[]string{"ed25519:x"}, nil},
			}
			for _, tc := range tests {
				got, err := d.Responses(ctx, "r.example", tc.ids)
				must(err)
				if len(got) != len(tc.want) {
					t.Fatalf("Responses(%v) = %d rows, want %v", tc.ids, len(got), tc.want)
				}
				for i := range got {
					if string(got[i].Raw) != tc.want[i] {
						t.Fatalf("Responses(%v)[%d] = %s, want %s", tc.ids, i, got[i].Raw, tc.want[i])
					}
				}
			}
		})
	}
}
