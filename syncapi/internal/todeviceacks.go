package internal

import (
	"context"
	"sync"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// maxAckGroup bounds how many devices' acknowledgements one delete transaction takes.
const maxAckGroup = 512

// toDeviceAcks is the group commit of the deletes of acknowledged to-device messages
// (topic 3 in /sync, ephemeral.go). Every device's next /sync after a delivery deletes
// what its since token acknowledged; after one message to 1,000 devices that is 1,000
// write transactions, which SQLite runs one at a time and which queue before the next
// topic 3 store. Instead a /sync queues its delete and takes commit; whichever call
// holds commit deletes everything queued by then in one transaction, while the next group
// forms. Each call still returns only once its own delete committed, so nothing changes
// for the caller. The zero value is ready to use.
type toDeviceAcks struct {
	mu     sync.Mutex // guards queue
	queue  []*ackJob
	commit sync.Mutex // held by the caller running a group's transaction
}

type ackJob struct {
	ack  storage.ToDeviceAck
	err  error
	done bool // set under commit by the caller that ran the job's group
}

// delete deletes one device's messages up to ack.UpTo, in a transaction shared with the
// deletes queued at the same time.
func (a *toDeviceAcks) delete(ctx context.Context, db *storage.Database, ack storage.ToDeviceAck) error {
	j := &ackJob{ack: ack}
	a.mu.Lock()
	a.queue = append(a.queue, j)
	a.mu.Unlock()
	a.commit.Lock()
	defer a.commit.Unlock()
	for !j.done {
		a.mu.Lock()
		n := min(len(a.queue), maxAckGroup)
		group := a.queue[:n:n]
		a.queue = a.queue[n:]
		a.mu.Unlock()
		acks := make([]storage.ToDeviceAck, len(group))
		for i, g := range group {
			acks[i] = g.ack
		}
		// The group is everyone's: one caller going away must not fail the others.
		err := db.DeleteToDeviceAcks(context.WithoutCancel(ctx), acks)
		for _, g := range group {
			g.err, g.done = err, true
		}
	}
	return j.err
}
