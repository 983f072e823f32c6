package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/roomserver/api"
)

func TestMetricsCountCommittedEventsOnly(t *testing.T) {
	rs := newTestRoomserver(t, testenv.SQLitePath(t, "metrics"))
	ctx := context.Background()
	alice := user("alice")
	msgs, state, refusals := counterValue(eventsStored.WithLabelValues("message")), counterValue(eventsStored.WithLabelValues("state")), counterValue(authRefusals)
	room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, Preset: "public_chat"}) // 6 state events
	if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: user("bob"), Type: "m.room.message", Content: json.RawMessage(`{}`)}); errCode(err) != "M_FORBIDDEN" {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want float64
	}{
		{"messages", counterValue(eventsStored.WithLabelValues("message")) - msgs, 1},
		{"state", counterValue(eventsStored.WithLabelValues("state")) - state, 6},
		{"refusals", counterValue(authRefusals) - refusals, 1},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
