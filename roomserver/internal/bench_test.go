package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/roomserver/api"
)

// BenchmarkSendMessage measures one m.room.message through SendEvent on SQLite: auth
// events lookup, build and sign, auth check, store, stream position and outbox staging.
func BenchmarkSendMessage(b *testing.B) {
	rs := newTestRoomserver(b, testenv.SQLitePath(b, "bench"))
	ctx := context.Background()
	alice := user("alice")
	resp, err := rs.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "public_chat"})
	if err != nil {
		b.Fatal(err)
	}
	content := json.RawMessage(`{"msgtype":"m.text","body":"hello world"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: resp.RoomID, Sender: alice, Type: "m.room.message",
			Content: content, DeviceID: "D", TxnID: fmt.Sprint(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
