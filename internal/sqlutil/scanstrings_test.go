package sqlutil

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

func TestScanStrings(t *testing.T) {
	db, err := Open(Options{ConnectionString: "file:" + filepath.Join(t.TempDir(), "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (s TEXT NOT NULL); INSERT INTO t (s) VALUES ('b'), ('a')`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query string
		want        []string
		wantErr     bool
	}{
		{"rows", `SELECT s FROM t ORDER BY s`, []string{"a", "b"}, false},
		{"none", `SELECT s FROM t WHERE s = 'c'`, nil, false},
		{"query error passed through", `SELECT s FROM missing`, nil, true},
		{"scan error", `SELECT s, s FROM t`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ScanStrings(db.Reader().QueryContext(ctx, tc.query))
			if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := ScanStrings(nil, errors.New("x")); err == nil {
		t.Fatal("a query error must come back")
	}
}
