package sqlutil

import (
	"path/filepath"
	"testing"
)

// TestSQLiteSynchronous: FULL (2) unless the operator picks NORMAL (1), on the writer and
// on the read pool; anything else is refused.
func TestSQLiteSynchronous(t *testing.T) {
	tests := []struct {
		setting string
		want    int
		wantErr bool
	}{
		{"", 2, false},
		{SQLiteSyncFull, 2, false},
		{"FULL", 2, false},
		{SQLiteSyncNormal, 1, false},
		{"off", 0, true},
	}
	for _, tc := range tests {
		db, err := Open(Options{ConnectionString: "file:" + filepath.Join(t.TempDir(), "s.db"), SQLiteSynchronous: tc.setting})
		if tc.wantErr {
			if err == nil {
				db.Close()
				t.Errorf("%q: opened, want an error", tc.setting)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.setting, err)
		}
		var w, r int
		if err := db.QueryRow("PRAGMA synchronous").Scan(&w); err != nil {
			t.Fatal(err)
		}
		if err := db.Reader().QueryRow("PRAGMA synchronous").Scan(&r); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if w != tc.want || r != tc.want {
			t.Errorf("%q: synchronous writer %d reader %d, want %d", tc.setting, w, r, tc.want)
		}
	}
}
