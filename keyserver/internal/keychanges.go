package internal

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/storage"
)

// SetKeyChanges makes the keyserver the producer of topic 7 (keyserver → syncapi;
// numbered as docs/wiring.md): every change of a local user's device keys (new or
// different keys uploaded, a device's keys deleted) or cross-signing keys and signatures
// is staged on outbox (whose rows live in the keyserver's database) under topic, the full
// name of topic 7, in the transaction that makes it, with the keyserver's own dense
// position. Without it nothing is staged.
func (k *KeyServer) SetKeyChanges(outbox eventlog.Outbox, topic string) {
	k.outbox = outbox
	k.db.SetStager(func(ctx context.Context, tx *sql.Tx, changes []storage.Change) error {
		msgs := make([]eventlog.Message, len(changes))
		for i, c := range changes {
			out := api.OutputKeyChange{StreamPos: c.StreamPos, PrevStreamPos: c.PrevStreamPos, UserID: c.UserID, DeviceID: c.DeviceID, Deleted: c.Deleted,
				CrossSigning: c.CrossSigning, Audience: c.Audience}
			if len(c.DeviceKeys) > 0 {
				out.DeviceKeys = json.RawMessage(c.DeviceKeys)
			}
			if len(c.MasterKey) > 0 {
				out.MasterKey = json.RawMessage(c.MasterKey)
			}
			if len(c.SelfSigningKey) > 0 {
				out.SelfSigningKey = json.RawMessage(c.SelfSigningKey)
			}
			value, err := json.Marshal(&out)
			if err != nil {
				return err
			}
			// Topic 7: keyserver → syncapi, keyed by the user whose keys changed.
			msgs[i] = eventlog.Message{Topic: topic, Key: c.UserID, Value: value}
			// Read your own writes (writepos.go): recorded once the write has committed.
			noteStaged(ctx, c.StreamPos, append([]string{c.UserID}, c.Audience...)...)
		}
		return outbox.Stage(ctx, tx, msgs...)
	})
}

// kick wakes the outbox relay after a write's commit (a write that staged nothing costs
// the relay one empty look).
func (k *KeyServer) kick() {
	if k.outbox != nil {
		k.outbox.Kick()
	}
}
