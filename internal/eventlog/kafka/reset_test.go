package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/eventlogtest"
	"github.com/axon-matrix/axon/internal/testenv"
)

// collector records delivered values in order.
type collector struct {
	mu   sync.Mutex
	vals []string
}

func (c *collector) handle(_ context.Context, m eventlog.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vals = append(c.vals, string(m.Value))
	return nil
}

func (c *collector) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.vals...)
}

// run starts Consume; the returned stop cancels it and waits.
func run(t *testing.T, l *Log, topic, group string, h eventlog.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Consumer().Consume(ctx, topic, group, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Consume: %v", err)
				}
			case <-time.After(60 * time.Second):
				t.Error("Consume did not return")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func publishValues(t *testing.T, l *Log, topic string, vals ...string) {
	t.Helper()
	var msgs []eventlog.Message
	for _, v := range vals {
		msgs = append(msgs, eventlog.Message{Topic: topic, Key: "!room", Value: []byte(v)})
	}
	if err := l.Producer().Publish(context.Background(), msgs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// recreateTopic deletes topic and creates it again, empty (Dendrite's issue #1673).
func recreateTopic(t *testing.T, l *Log, topic string) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(l.cfg.Brokers, l.sarama)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteTopic(topic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	waitUntil(t, "the topic to be deleted", func() bool {
		topics, err := admin.ListTopics()
		_, exists := topics[topic]
		return err == nil && !exists
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := l.EnsureTopics(context.Background(), 1, topic)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("recreating topic: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// commitOffset commits offset for group on partition 0 of topic, as a stale or foreign
// member would, so the next Consume finds a committed offset out of the log's range.
func commitOffset(t *testing.T, l *Log, topic, group string, offset int64) {
	t.Helper()
	client, err := sarama.NewClient(l.cfg.Brokers, l.sarama)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		t.Fatal(err)
	}
	pom, err := om.ManagePartition(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	pom.MarkOffset(offset, "") // forward from the committed offset (ResetOffset only moves back)
	om.Commit()
	if err := pom.Close(); err != nil {
		t.Fatal(err)
	}
	if err := om.Close(); err != nil {
		t.Fatal(err)
	}
	fetched, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		t.Fatal(err)
	}
	defer fetched.Close()
	p, err := fetched.ManagePartition(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got, _ := p.NextOffset(); got != offset {
		t.Fatalf("committed offset reads back as %d, want %d", got, offset)
	}
}

// TestOffsetReset: a group whose committed offset no longer fits the log (the topic was
// deleted and recreated, or the offset points past the end) starts where the policy says
// instead of failing: earliest replays what is there, latest only takes new messages.
func TestOffsetReset(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	scenarios := []struct {
		name    string
		disturb func(t *testing.T, l *Log, topic, group string)
	}{
		{"topic recreated", func(t *testing.T, l *Log, topic, group string) { recreateTopic(t, l, topic) }},
		{"offset past the end", func(t *testing.T, l *Log, topic, group string) { commitOffset(t, l, topic, group, 1000) }},
	}
	for _, sc := range scenarios {
		for _, policy := range []eventlog.OffsetReset{eventlog.ResetEarliest, eventlog.ResetLatest} {
			t.Run(fmt.Sprintf("%s/%s", sc.name, policy), func(t *testing.T) {
				// The group first consumes everything (as an earliest consumer), then the log
				// is disturbed, then a consumer with the policy under test starts.
				l0 := openLog(t, testConfig(brokers))
				cfg := testConfig(brokers)
				cfg.Reset = policy
				l := openLog(t, cfg)
				topic := eventlogtest.Topic(t, "reset")
				if err := l.EnsureTopics(context.Background(), 1, topic); err != nil {
					t.Fatal(err)
				}
				publishValues(t, l, topic, "a0", "a1", "a2", "a3", "a4")
				first := &collector{}
				stop := run(t, l0, topic, "g", first.handle)
				waitUntil(t, "the first 5", func() bool { return len(first.get()) == 5 })
				stop()

				sc.disturb(t, l, topic, "g")
				publishValues(t, l, topic, "b0", "b1")

				second := &collector{}
				run(t, l, topic, "g", second.handle)
				if policy == eventlog.ResetEarliest {
					want := []string{"b0", "b1"}
					if sc.name == "offset past the end" {
						want = []string{"a0", "a1", "a2", "a3", "a4", "b0", "b1"}
					}
					waitUntil(t, "replay from the earliest message", func() bool { return len(second.get()) >= len(want) })
					time.Sleep(300 * time.Millisecond)
					if got := second.get(); strings.Join(got, ",") != strings.Join(want, ",") {
						t.Fatalf("earliest: delivered %v, want %v", got, want)
					}
					return
				}
				// latest: what was published before the consumer started is skipped; probes
				// published from now on arrive (the first ones may race the start).
				for i := 0; len(second.get()) == 0; i++ {
					if i > 150 {
						t.Fatal("latest: no message delivered after the consumer started")
					}
					publishValues(t, l, topic, fmt.Sprint("probe", i))
					time.Sleep(200 * time.Millisecond)
				}
				for _, v := range second.get() {
					if !strings.HasPrefix(v, "probe") {
						t.Fatalf("latest: delivered %s, published before the consumer started", v)
					}
				}
			})
		}
	}
}

// TestRebalance: a second member joins and the first leaves while messages flow; every
// message arrives at least once and each key is never seen ahead of its order.
func TestRebalance(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	l := openLog(t, testConfig(brokers))
	topic := eventlogtest.Topic(t, "rebalance")
	if err := l.EnsureTopics(context.Background(), 4, topic); err != nil {
		t.Fatal(err)
	}
	const keys, perKey = 8, 40
	var mu sync.Mutex
	seen := map[string][]int{}
	handler := func(_ context.Context, m eventlog.Message) error {
		var i int
		fmt.Sscan(string(m.Value), &i)
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		seen[m.Key] = append(seen[m.Key], i)
		mu.Unlock()
		return nil
	}
	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, vs := range seen {
			m := map[int]bool{}
			for _, v := range vs {
				m[v] = true
			}
			n += len(m)
		}
		return n
	}
	publishAll := func(from, to int) {
		for i := from; i < to; i++ {
			var msgs []eventlog.Message
			for k := 0; k < keys; k++ {
				msgs = append(msgs, eventlog.Message{Topic: topic, Key: fmt.Sprint("!r", k), Value: []byte(fmt.Sprint(i))})
			}
			if err := l.Producer().Publish(context.Background(), msgs...); err != nil {
				t.Fatal(err)
			}
		}
	}
	stopA := run(t, l, topic, "g", handler)
	publishAll(0, perKey/2)
	waitUntil(t, "member A to start", func() bool { return distinct() > 0 })
	run(t, l, topic, "g", handler) // member B joins: rebalance
	publishAll(perKey/2, perKey*3/4)
	stopA() // member A leaves: rebalance
	publishAll(perKey*3/4, perKey)
	waitUntil(t, "every message", func() bool { return distinct() == keys*perKey })

	mu.Lock()
	defer mu.Unlock()
	for k, vs := range seen {
		highest := -1
		for _, v := range vs {
			if v > highest+1 {
				t.Fatalf("key %s: saw %d before %d (sequence %v)", k, v, highest+1, vs)
			}
			if v > highest {
				highest = v
			}
		}
	}
}

// TestConsumeUnknownTopic: consuming a topic that was never created fails at once.
func TestConsumeUnknownTopic(t *testing.T) {
	l := openLog(t, testConfig(testenv.KafkaBrokers(t)))
	err := l.Consumer().Consume(context.Background(), eventlogtest.Topic(t, "missing"), "g",
		func(context.Context, eventlog.Message) error { return nil })
	if !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		t.Fatalf("Consume on a missing topic = %v, want unknown topic", err)
	}
}
