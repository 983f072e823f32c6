package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLongPollPassesThrough: a /sync that the upstream holds for 2 s, like a long-poll
// with timeout=2000, reaches the client whole.
func TestLongPollPassesThrough(t *testing.T) {
	ups := fourKinds(t)
	ups[KindSync] = []*fakeUpstream{newUpstream(t, "sync", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second): // the long-poll's wait
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"next_batch":"s2_0"}`)
	})}
	_, front := startProxy(t, ups)
	code, _, b := do(t, http.MethodGet, front+"/_matrix/client/v3/sync?timeout=2000", nil, nil)
	if code != http.StatusOK || string(b) != `{"next_batch":"s2_0"}` {
		t.Fatalf("long-poll: %d %s", code, b)
	}
}

// TestResponseFlushed: what the upstream flushes reaches the client before the upstream
// has finished. The upstream waits for the client to have read the first part before it
// writes the second, so a proxy that buffered the response would never finish (the
// request's guard context would end it).
func TestResponseFlushed(t *testing.T) {
	clientGotFirst := make(chan struct{})
	ups := fourKinds(t)
	ups[KindSync] = []*fakeUpstream{newUpstream(t, "sync", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-clientGotFirst:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second\n")
	})}
	_, front := startProxy(t, ups)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // guard, not an assertion
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, front+"/_matrix/client/v3/sync", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "first\n" {
		t.Fatalf("first part %q %v (not flushed through?)", first, err)
	}
	close(clientGotFirst)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("second part %q %v", rest, err)
	}
}

// TestStreamedUpload: a 4 MiB upload arrives intact, and the proxy streams it: the
// client sends the rest only once the upstream has received the first chunk, so a proxy
// that buffered request bodies would never finish.
func TestStreamedUpload(t *testing.T) {
	const firstChunk = 64 << 10
	upstreamGotFirst := make(chan struct{})
	ups := fourKinds(t)
	ups[KindMedia] = []*fakeUpstream{newUpstream(t, "media", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		if _, err := io.CopyN(h, r.Body, firstChunk); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		close(upstreamGotFirst)
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, hex.EncodeToString(h.Sum(nil))+" "+r.Header.Get("Content-Type")+" "+itoa(firstChunk+n))
	})}
	_, front := startProxy(t, ups)

	data := make([]byte, 4<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	pr, pw := io.Pipe()
	go func() {
		if _, err := pw.Write(data[:firstChunk]); err != nil {
			pw.CloseWithError(err)
			return
		}
		select {
		case <-upstreamGotFirst:
		case <-time.After(30 * time.Second): // guard against a hang, not an assertion
			pw.CloseWithError(io.ErrNoProgress)
			return
		}
		_, err := pw.Write(data[firstChunk:])
		pw.CloseWithError(err)
	}()
	code, _, b := do(t, http.MethodPost, front+"/_matrix/media/v3/upload?filename=x.bin",
		map[string]string{"Content-Type": "application/octet-stream"}, pr)
	want := hex.EncodeToString(sum[:]) + " application/octet-stream " + itoa(int64(len(data)))
	if code != http.StatusOK || strings.TrimSpace(string(b)) != want {
		t.Fatalf("upload: %d %q, want %q", code, b, want)
	}
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
