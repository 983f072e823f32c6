package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// ErrTooLarge: the content is longer than the limit Write was given. No more than the
// limit and one byte of it was read.
var ErrTooLarge = errors.New("storage: content over the size limit")

// Files is the content-addressed file store under media_api.base_path: each content is
// the file sha256/ab/cd/<the 64 hex digits of its SHA-256>, so the same bytes uploaded
// twice take the space of one file. Uploads are written to tmp/ while they arrive (hashed
// on the way, never held in memory) and renamed into place when complete, so a reader
// never sees a partial file.
type Files struct {
	base string
}

// NewFiles opens (creating) the store under base.
func NewFiles(base string) (*Files, error) {
	for _, d := range []string{base, filepath.Join(base, "tmp"), filepath.Join(base, "sha256")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("storage: media directory: %w", err)
		}
	}
	return &Files{base: base}, nil
}

// Write stores the content r yields, reading at most max+1 bytes of it: a content over
// max bytes is ErrTooLarge and leaves nothing behind. It returns the content's SHA-256 (hex)
// and size.
func (f *Files) Write(r io.Reader, max int64) (hash string, size int64, err error) {
	tmp, err := os.CreateTemp(filepath.Join(f.base, "tmp"), "upload-*")
	if err != nil {
		return "", 0, fmt.Errorf("storage: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, max+1))
	if err != nil {
		return "", 0, fmt.Errorf("storage: receiving content: %w", err)
	}
	if size > max {
		return "", 0, ErrTooLarge
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("storage: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("storage: %w", err)
	}
	hash = hex.EncodeToString(h.Sum(nil))
	final, _ := f.Path(hash)
	if _, err := os.Stat(final); err == nil {
		// Stored already: the temporary copy goes (deferred). The file's time is renewed,
		// so RemoveUnused leaves it while the caller records it.
		now := time.Now()
		_ = os.Chtimes(final, now, now)
		return hash, size, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return "", 0, fmt.Errorf("storage: %w", err)
	}
	// A concurrent upload of the same bytes may rename its copy in first: the rename
	// replaces it with identical content, atomically.
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", 0, fmt.Errorf("storage: %w", err)
	}
	keep = true
	return hash, size, nil
}

// Path is where the content with SHA-256 hash (64 lower-case hex digits) is stored; false
// for anything else, which names no file.
func (f *Files) Path(hash string) (string, bool) {
	if len(hash) != sha256.Size*2 {
		return "", false
	}
	for _, c := range hash {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return filepath.Join(f.base, "sha256", hash[0:2], hash[2:4], hash), true
}

// Open opens the content with SHA-256 hash for reading.
func (f *Files) Open(hash string) (*os.File, error) {
	p, ok := f.Path(hash)
	if !ok {
		return nil, fmt.Errorf("storage: %q is not a SHA-256", hash)
	}
	return os.Open(p)
}

// RemoveUnused removes the file with SHA-256 hash when it was last written before cutoff:
// the caller has found that no row names it, and a file written since may be one an upload
// of the same bytes is about to record (Write renews the time of a file it finds stored).
// A file that is not there is no error.
func (f *Files) RemoveUnused(hash string, cutoff time.Time) (bool, error) {
	p, ok := f.Path(hash)
	if !ok {
		return false, fmt.Errorf("storage: %q is not a SHA-256", hash)
	}
	st, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: %w", err)
	}
	if !st.ModTime().Before(cutoff) {
		return false, nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("storage: %w", err)
	}
	return true, nil
}
