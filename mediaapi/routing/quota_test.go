package routing

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	uapi "github.com/axon-matrix/axon/userapi/api"
)

// TestUploadQuota: media_api.max_bytes_per_user counts every media ID a user uploaded (a
// duplicate of stored bytes included); an upload past it is 403 M_FORBIDDEN, before the
// body is read when Content-Length says so, otherwise once the remaining quota has
// arrived; nothing of a refused upload is kept; other users have their own quota; pending
// IDs count nothing until filled.
func TestUploadQuota(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t, func(c *Config) { c.MaxBytesPerUser = 1000 })
		_, alice := h.user("alice", uapi.AccountTypeUser)
		_, bob := h.user("bob", uapi.AccountTypeUser)
		post := func(tok string, body []byte, withLength bool) resp {
			r := httptest.NewRequest(http.MethodPost, "/_matrix/media/v3/upload", nil)
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = -1
			if withLength {
				r.ContentLength = int64(len(body))
			}
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("Content-Type", "application/octet-stream")
			return h.serve(r)
		}
		a := bytes.Repeat([]byte("a"), 600)
		h.must(post(alice, a, true), http.StatusOK)
		stored, _ := h.storedFiles()

		// 600 + 600 > 1000, announced: refused before the body is read.
		unread := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte("b"), 600))}
		r := httptest.NewRequest(http.MethodPost, "/_matrix/media/v3/upload", unread)
		r.ContentLength = 600
		r.Header.Set("Authorization", "Bearer "+alice)
		h.must(h.serve(r), http.StatusForbidden, "M_FORBIDDEN")
		if unread.n != 0 {
			t.Fatalf("read %d bytes of a refused upload", unread.n)
		}
		// Not announced (chunked): refused once more than the 400 bytes left arrived.
		streamed := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte("b"), 100_000))}
		r = httptest.NewRequest(http.MethodPost, "/_matrix/media/v3/upload", streamed)
		r.ContentLength = -1
		r.Header.Set("Authorization", "Bearer "+alice)
		h.must(h.serve(r), http.StatusForbidden, "M_FORBIDDEN")
		if streamed.n > 64<<10 {
			t.Fatalf("read %d bytes of a refused streamed upload", streamed.n)
		}
		if s, tmp := h.storedFiles(); s != stored || tmp != 0 {
			t.Fatalf("refused uploads left %d stored (was %d), %d in tmp", s, stored, tmp)
		}

		// The same 600 bytes again: stored once, yet counted for the new media ID too.
		h.must(post(bob, a, false), http.StatusOK)
		// Exactly up to the quota is accepted, streamed or announced.
		h.must(post(alice, bytes.Repeat([]byte("c"), 400), false), http.StatusOK)
		h.must(post(alice, nil, true), http.StatusOK) // empty content: 0 bytes left is enough
		h.must(post(alice, []byte("d"), true), http.StatusForbidden, "M_FORBIDDEN")
		h.must(post(alice, []byte("d"), false), http.StatusForbidden, "M_FORBIDDEN")
		// Bob has 400 left; a pending ID counts nothing, filling it counts.
		c := h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", bob, nil, nil), http.StatusOK)
		id := c.body["content_uri"].(string)[len("mxc://"):]
		h.must(post(bob, bytes.Repeat([]byte("e"), 400), true), http.StatusOK)
		put := httptest.NewRequest(http.MethodPut, "/_matrix/media/v3/upload/"+id, bytes.NewReader([]byte("f")))
		put.Header.Set("Authorization", "Bearer "+bob)
		h.must(h.serve(put), http.StatusForbidden, "M_FORBIDDEN")
	})
}

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
