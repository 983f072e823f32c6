package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	uapi "github.com/axon-matrix/axon/userapi/api"
)

// benchServer is the mediaapi over real HTTP (SQLite, the userapi direct) with one user.
func benchServer(b *testing.B, maxUpload int64) (*harness, *httptest.Server, string) {
	h := newHarness(b, "direct", "file:"+filepath.Join(b.TempDir(), "media.db"), func(c *Config) { c.MaxUploadSize = maxUpload })
	_, tok := h.user("bench", uapi.AccountTypeUser)
	srv := httptest.NewServer(h.handler)
	b.Cleanup(srv.Close)
	return h, srv, tok
}

// BenchmarkDownload100MB: GET of a stored 100 MB file over HTTP on loopback (by this
// process to io.Discard and to a file, and by curl(1) to /dev/null), against cp(1) of the
// same file on this machine; B/s in MB/s.
func BenchmarkDownload100MB(b *testing.B) {
	const size = 100 << 20
	h, srv, tok := benchServer(b, size)
	r, err := http.NewRequest(http.MethodPost, srv.URL+"/_matrix/media/v3/upload", &patternReader{n: size})
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		b.Fatal(err)
	}
	var up struct {
		ContentURI string `json:"content_uri"`
	}
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	mxc := strings.TrimPrefix(up.ContentURI, "mxc://")
	m, err := h.h.db.GetMedia(b.Context(), testServer, mxc[len(testServer)+1:])
	if err != nil || m == nil || m.Size != size {
		b.Fatalf("upload: %+v %v", m, err)
	}
	src, _ := h.h.files.Path(m.SHA256)
	dst := filepath.Join(b.TempDir(), "copy")
	// The client reads in 256 KiB steps (the defaults, 4 KiB reads into 8 KiB copies, make
	// the client, in this same process, the bottleneck).
	client := &http.Client{Transport: &http.Transport{ReadBufferSize: 256 << 10}}
	buf := make([]byte, 256<<10)
	get := func(w io.Writer) {
		r, _ := http.NewRequest(http.MethodGet, srv.URL+"/_matrix/client/v1/media/download/"+mxc, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{resp.Body}, buf)
		resp.Body.Close()
		if err != nil || n != size || resp.StatusCode != http.StatusOK {
			b.Fatalf("%d, %d bytes, %v", resp.StatusCode, n, err)
		}
	}
	b.Run("http-discard", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			get(io.Discard)
		}
	})
	b.Run("http-to-file", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Create(dst)
			if err != nil {
				b.Fatal(err)
			}
			get(f)
			f.Close()
		}
	})
	b.Run("curl", func(b *testing.B) { // another process as the client, as a real one is
		curl, err := exec.LookPath("curl")
		if err != nil {
			b.Skip("no curl")
		}
		b.SetBytes(size)
		for b.Loop() {
			out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{size_download}", "-H", "Authorization: Bearer "+tok,
				srv.URL+"/_matrix/client/v1/media/download/"+mxc).CombinedOutput()
			if err != nil || string(out) != fmt.Sprint(size) {
				b.Fatalf("curl: %v %s", err, out)
			}
		}
	})
	b.Run("cp", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			os.Remove(dst)
			if out, err := exec.Command("cp", src, dst).CombinedOutput(); err != nil {
				b.Fatalf("cp: %v %s", err, out)
			}
		}
	})
}

// BenchmarkUpload100x1MB: 100 concurrent POSTs of 1 MB each (distinct content) over HTTP
// on loopback, SQLite; one op is all 100. Reports MB/s and the largest growth of the
// process's resident set while they ran (rss-MB: the server's and the 100 clients'
// buffers, the bodies themselves allocated before).
func BenchmarkUpload100x1MB(b *testing.B) {
	const n, size = 100, 1 << 20
	_, srv, tok := benchServer(b, size)
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = bytes.Repeat([]byte(fmt.Sprintf("%07d", i)), size/7+1)[:size]
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: time.Minute}
	b.SetBytes(n * size)
	var peak int64
	round := 0
	for b.Loop() {
		round++
		grew := peakRSS(b, func() {
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Distinct content each round, without copying the megabyte (the
					// client's memory is in the measure too).
					prefix := fmt.Sprintf("%d-", round)
					body := io.MultiReader(strings.NewReader(prefix), bytes.NewReader(bodies[i][len(prefix):]))
					r, _ := http.NewRequest(http.MethodPost, srv.URL+"/_matrix/media/v3/upload", body)
					r.ContentLength = size
					r.Header.Set("Authorization", "Bearer "+tok)
					resp, err := client.Do(r)
					if err != nil {
						errs <- err
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						errs <- fmt.Errorf("status %d", resp.StatusCode)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
		})
		peak = max(peak, grew)
	}
	b.ReportMetric(float64(peak)/(1<<20), "rss-MB")
}
