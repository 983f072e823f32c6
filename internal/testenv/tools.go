package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Tools checks that the named programs are on PATH, for tests that start their own
// service (a Kafka broker they kill -9 and restart through scripts/kafka.sh needs java
// and mvn). Outside CI a missing program skips the test; in CI (CI=true) it fails.
func Tools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			msg := n + " is not on PATH; this test starts its own service and needs it"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}
