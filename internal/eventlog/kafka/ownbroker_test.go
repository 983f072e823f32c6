package kafka

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

// ownBroker is a Kafka broker of one test, run by scripts/kafka.sh in the test's temp dir,
// so the test may kill -9 and restart it (never the shared broker of AXON_TEST_KAFKA_BROKERS).
type ownBroker struct {
	t      *testing.T
	script string
	dir    string
	addr   string
}

// startOwnBroker starts a fresh broker and stops it when the test ends.
func startOwnBroker(t *testing.T) *ownBroker {
	t.Helper()
	testenv.Tools(t, "java", "mvn", "bash")
	script, err := filepath.Abs("../../../scripts/kafka.sh")
	if err != nil {
		t.Fatal(err)
	}
	b := &ownBroker{t: t, script: script, dir: filepath.Join(t.TempDir(), "kafka")}
	b.addr = b.run("start")
	t.Cleanup(func() { _, _ = exec.Command("bash", b.script, "stop", b.dir).CombinedOutput() })
	return b
}

// run runs scripts/kafka.sh cmd DIR and returns the broker address it printed.
func (b *ownBroker) run(cmd string) string {
	b.t.Helper()
	out, err := exec.Command("bash", b.script, cmd, b.dir).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		b.t.Fatalf("scripts/kafka.sh %s: %v\n%s", cmd, err, stderr)
	}
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndex(line, "\n"); i >= 0 {
		line = line[i+1:]
	}
	addr, ok := strings.CutPrefix(line, "export AXON_TEST_KAFKA_BROKERS=")
	if !ok {
		b.t.Fatalf("scripts/kafka.sh %s printed %q", cmd, out)
	}
	return addr
}

// kill sends SIGKILL to the broker process: no shutdown, no flush, connections reset.
func (b *ownBroker) kill() {
	b.t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.dir, "kafka.pid"))
	if err != nil {
		b.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		b.t.Fatal(err)
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		b.t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// restart starts the killed broker again on the same ports with its data; it returns once
// the broker says it has started.
func (b *ownBroker) restart() {
	b.t.Helper()
	if addr := b.run("restart"); addr != b.addr {
		b.t.Fatalf("restarted broker listens on %s, was %s", addr, b.addr)
	}
}
