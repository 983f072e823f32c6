package routing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	uapi "github.com/axon-matrix/axon/userapi/api"
)

// sizedContent is what the fake remote serves for sized-<n>-<tag>: n bytes of its own.
func sizedContent(id string) []byte {
	parts := strings.SplitN(id, "-", 3)
	n, _ := strconv.Atoi(parts[1])
	return bytes.Repeat([]byte(id), n/len(id)+1)[:n]
}

// TestRemoteCacheEviction: with media_api.remote_cache_max_bytes, a fetch that takes the
// remote cache over the bound drops the least recently used remote media (a download
// renews its use) until it fits: its metadata goes, its file too unless another media
// (here a local upload of the same bytes) names it; local uploads are never dropped; a
// dropped media is fetched again when asked for.
func TestRemoteCacheEviction(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t, func(c *Config) { c.RemoteCacheMax = 2500 })
		f := h.withRemote(true, 0)
		_, tok := h.user("bob", uapi.AccountTypeUser)
		var mu sync.Mutex
		clock := time.Now().Add(time.Hour) // files written now are past fileGrace by then
		h.h.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		tick := func() { mu.Lock(); clock = clock.Add(2 * touchEvery); mu.Unlock() }
		get := func(id string) {
			t.Helper()
			r := h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/download/"+f.name+"/"+id, tok, nil, nil), http.StatusOK)
			if !bytes.Equal(r.raw, sizedContent(id)) {
				t.Fatalf("%s: %d bytes", id, len(r.raw))
			}
			tick()
		}
		cached := func(id string) bool {
			m, err := h.h.db.GetMedia(context.Background(), f.name, id)
			if err != nil {
				t.Fatal(err)
			}
			return m != nil
		}
		fileOf := func(id string) bool {
			sum := sha256.Sum256(sizedContent(id))
			p, _ := h.h.files.Path(hex.EncodeToString(sum[:]))
			_, err := os.Stat(p)
			return err == nil
		}
		a, b, c, d := "sized-1000-a", "sized-1000-b", "sized-1000-c", "sized-1000-d"
		local := h.upload(tok, "application/octet-stream", "", sizedContent(b)) // b's bytes, uploaded here
		get(a)
		get(b)
		get(a) // a is used again: b is now the least recently used
		if n := f.fetches.Load(); n != 2 || !cached(a) || !cached(b) {
			t.Fatalf("%d fetches", n)
		}
		get(c) // 3000 bytes > 2500: b goes; its file stays (the local upload names it)
		if !cached(a) || cached(b) || !cached(c) || !fileOf(b) {
			t.Fatalf("after c: a %v b %v c %v, b's file %v", cached(a), cached(b), cached(c), fileOf(b))
		}
		h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/download/"+local, tok, nil, nil), http.StatusOK)
		get(d) // 3000 again: a (used before c was fetched) goes, with its file
		if cached(a) || !cached(c) || !cached(d) || fileOf(a) {
			t.Fatalf("after d: a %v c %v d %v, a's file %v", cached(a), cached(c), cached(d), fileOf(a))
		}
		get(a) // fetched again (and c, now the least recently used, goes)
		if n := f.fetches.Load(); n != 5 || cached(c) || !cached(d) {
			t.Fatalf("%d fetches, c %v d %v", n, cached(c), cached(d))
		}
		if total, err := h.h.db.RemoteBytes(context.Background(), testServer); err != nil || total != 2000 {
			t.Fatalf("remote cache %d bytes (%v), want 2000", total, err)
		}
	})
}
