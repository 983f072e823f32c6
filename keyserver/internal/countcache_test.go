package internal

import (
	"testing"

	"github.com/axon-matrix/axon/keyserver/api"
)

// TestCountCache: a cached answer is served until a write forgets it; a read that raced
// with a write (the generation moved while it read the database) does not fill the cache;
// forgetting a user forgets all of their devices.
func TestCountCache(t *testing.T) {
	var c countCache
	a := &api.QueryKeyCountsResponse{OneTimeKeyCounts: map[string]int{"signed_curve25519": 5}}
	if got, _ := c.get("@u:x", "D"); got != nil {
		t.Fatal("empty cache answered")
	}
	_, gen := c.get("@u:x", "D")
	c.put("@u:x", "D", a, gen)
	if got, _ := c.get("@u:x", "D"); got != a {
		t.Fatal("put answer not served")
	}
	c.forget("@u:x", "D")
	if got, _ := c.get("@u:x", "D"); got != nil {
		t.Fatal("forgotten answer served")
	}
	// A read that started before a write must not put its (old) answer back.
	_, gen = c.get("@u:x", "D")
	c.forget("@u:x", "D")
	c.put("@u:x", "D", a, gen)
	if got, _ := c.get("@u:x", "D"); got != nil {
		t.Fatal("a read that raced with a write filled the cache")
	}
	// Forgetting a user forgets every device of theirs, and only theirs.
	for _, d := range []string{"D1", "D2"} {
		_, gen = c.get("@u:x", d)
		c.put("@u:x", d, a, gen)
	}
	_, gen = c.get("@v:x", "E")
	c.put("@v:x", "E", a, gen)
	c.forget("@u:x")
	for _, d := range []string{"D1", "D2"} {
		if got, _ := c.get("@u:x", d); got != nil {
			t.Fatalf("device %s of a forgotten user served", d)
		}
	}
	if got, _ := c.get("@v:x", "E"); got != a || c.n != 1 {
		t.Fatalf("another user's entry: %v, %d entries", got, c.n)
	}
}
