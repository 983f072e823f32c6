package routing

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/testenv"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

// patternByte is the byte at offset i of patternReader's content: varied, and computable
// at any offset, so a range of the download can be checked without holding the content.
func patternByte(i int64) byte { return byte(i*31 + i>>8 + i>>16) }

// patternReader yields n bytes of patternByte, never holding them.
type patternReader struct{ off, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(b)), p.n-p.off))
	for i := 0; i < k; i++ {
		b[i] = patternByte(p.off + int64(i))
	}
	p.off += int64(k)
	return k, nil
}

// rssBytes is the process's resident set (VmRSS of /proc/self/status).
func rssBytes(t testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// peakRSS samples the resident set every 5 ms while fn runs and returns its largest growth
// over what it was before.
func peakRSS(t testing.TB, fn func()) int64 {
	runtime.GC()
	base := rssBytes(t)
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			if g := rssBytes(t) - base; g > peak.Load() {
				peak.Store(g)
			}
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak.Load()
}

// discard is a ResponseWriter that keeps the status, the headers and a count of the body,
// and checks the body against patternByte from offset.
type discard struct {
	header http.Header
	status int
	n      int64
	offset int64
	bad    bool
}

func (d *discard) Header() http.Header { return d.header }
func (d *discard) WriteHeader(s int) {
	if d.status == 0 {
		d.status = s
	}
}
func (d *discard) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	for i, c := range b {
		if c != patternByte(d.offset+d.n+int64(i)) {
			d.bad = true
		}
	}
	d.n += int64(len(b))
	return len(b), nil
}

// TestLargeUploadStreamed: a 200 MB upload (no Content-Length: chunked) and its download
// grow the process's resident set by less than 32 MB each (sampled from /proc/self/status
// while they run): the body goes to disk while it arrives and comes back from the file;
// a range of the stored file is the right bytes. SQLite and Postgres. Skipped with -short.
func TestLargeUploadStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MB through the handler")
	}
	const size = 200 << 20
	const limit = 32 << 20
	for dbName, dsn := range testenv.Databases(t) {
		t.Run(dbName, func(t *testing.T) {
			h := newHarness(t, "direct", dsn(t), func(c *Config) { c.MaxUploadSize = 256 << 20 })
			_, tok := h.user("alice", uapi.AccountTypeUser)
			var up resp
			grew := peakRSS(t, func() {
				r := httptest.NewRequest(http.MethodPost, "/_matrix/media/v3/upload?filename=big.bin", &patternReader{n: size})
				r.ContentLength = -1
				r.Header.Set("Authorization", "Bearer "+tok)
				r.Header.Set("Content-Type", "application/octet-stream")
				up = h.serve(r)
			})
			h.must(up, http.StatusOK)
			t.Logf("upload of %d MB: resident set grew %.1f MB", size>>20, float64(grew)/(1<<20))
			if grew >= limit {
				t.Errorf("upload grew the resident set by %d bytes, limit %d", grew, limit)
			}
			id := strings.TrimPrefix(up.body["content_uri"].(string), "mxc://")
			var d discard
			grew = peakRSS(t, func() {
				d = discard{header: http.Header{}}
				r := httptest.NewRequest(http.MethodGet, "/_matrix/client/v1/media/download/"+id, nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				h.handler.ServeHTTP(&d, r)
			})
			t.Logf("download: resident set grew %.1f MB", float64(grew)/(1<<20))
			if d.status != http.StatusOK || d.n != size || d.bad {
				t.Fatalf("download: %d, %d bytes, content wrong %v", d.status, d.n, d.bad)
			}
			if grew >= limit {
				t.Errorf("download grew the resident set by %d bytes, limit %d", grew, limit)
			}
			// A range deep in the file.
			const from, to = 150_000_000, 150_000_099
			d = discard{header: http.Header{}, offset: from}
			r := httptest.NewRequest(http.MethodGet, "/_matrix/client/v1/media/download/"+id, nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("Range", "bytes="+strconv.Itoa(from)+"-"+strconv.Itoa(to))
			h.handler.ServeHTTP(&d, r)
			if d.status != http.StatusPartialContent || d.n != to-from+1 || d.bad ||
				d.header.Get("Content-Range") != "bytes 150000000-150000099/"+strconv.Itoa(size) {
				t.Fatalf("range: %d, %d bytes, wrong %v, %q", d.status, d.n, d.bad, d.header.Get("Content-Range"))
			}
		})
	}
}
