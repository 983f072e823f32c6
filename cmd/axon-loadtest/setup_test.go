package main

import (
	"reflect"
	"testing"
)

// roomMembers: room r holds users (r·members + k) mod users; the first of them creates it.
func TestRoomMembers(t *testing.T) {
	cases := []struct {
		name                  string
		users, rooms, members int
		want                  [][]int
	}{
		{"one room, everyone", 3, 1, 3, [][]int{{0, 1, 2}}},
		{"disjoint rooms", 4, 2, 2, [][]int{{0, 1}, {2, 3}}},
		{"wrapping around", 3, 2, 2, [][]int{{0, 1}, {2, 0}}},
		{"single members", 2, 3, 1, [][]int{{0}, {1}, {0}}},
	}
	for _, tc := range cases {
		got := roomMembers(options{users: tc.users, rooms: tc.rooms, members: tc.members})
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
