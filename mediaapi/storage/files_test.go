package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFilesWrite(t *testing.T) {
	f, err := NewFiles(filepath.Join(t.TempDir(), "m"))
	if err != nil {
		t.Fatal(err)
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	cases := []struct {
		name    string
		content []byte
		max     int64
		wantErr error
	}{
		{"small", []byte("hello"), 10, nil},
		{"same again", []byte("hello"), 10, nil},
		{"exactly max", bytes.Repeat([]byte("a"), 10), 10, nil},
		{"over max", bytes.Repeat([]byte("b"), 11), 10, ErrTooLarge},
		{"empty", nil, 10, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hash, size, err := f.Write(bytes.NewReader(c.content), c.max)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if c.wantErr != nil {
				return
			}
			if hash != sum(c.content) || size != int64(len(c.content)) {
				t.Fatalf("hash %s size %d", hash, size)
			}
			r, err := f.Open(hash)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r)
			r.Close()
			if !bytes.Equal(got, c.content) {
				t.Fatalf("read back %q", got)
			}
		})
	}
	n := 0
	_ = filepath.WalkDir(filepath.Join(f.base, "sha256"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	if tmp, _ := os.ReadDir(filepath.Join(f.base, "tmp")); n != 3 || len(tmp) != 0 {
		t.Fatalf("%d stored files (want 3), %d in tmp (want 0)", n, len(tmp))
	}
	for _, bad := range []string{"", "../../etc/passwd", strings.Repeat("A", 64), strings.Repeat("a", 63)} {
		if _, ok := f.Path(bad); ok {
			t.Errorf("Path(%q) accepted", bad)
		}
		if _, err := f.Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

// TestFilesRemoveUnused: a file is removed only when written before the cutoff; a Write
// of the same bytes renews its time.
func TestFilesRemoveUnused(t *testing.T) {
	f, err := NewFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hash, _, err := f.Write(strings.NewReader("bytes"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if gone, err := f.RemoveUnused(hash, time.Now().Add(-time.Minute)); gone || err != nil {
		t.Fatalf("a fresh file was removed: %v %v", gone, err)
	}
	p, _ := f.Path(hash)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Write(strings.NewReader("bytes"), 100); err != nil { // found stored: renewed
		t.Fatal(err)
	}
	if gone, _ := f.RemoveUnused(hash, time.Now().Add(-time.Minute)); gone {
		t.Fatal("a file just written again was removed")
	}
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if gone, err := f.RemoveUnused(hash, time.Now().Add(-time.Minute)); !gone || err != nil {
		t.Fatalf("an old file stayed: %v %v", gone, err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("file still there: %v", err)
	}
	if gone, err := f.RemoveUnused(hash, time.Now()); gone || err != nil {
		t.Fatalf("a missing file: %v %v", gone, err)
	}
}
