package eventlog

// Topic names of the wiring document, without the configured prefix (config adds e.g.
// "axon."). The number of each is its number in ARCHITECTURE.md §2.
const (
	TopicAccountData   = "account_data"   // topic 1: account data → syncapi
	TopicRoomEvent     = "room_event"     // topic 2: roomserver → syncapi
	TopicEDU           = "edu"            // topic 3: eduserver → syncapi
	TopicMembership    = "membership"     // topic 4: roomserver → clientapi
	TopicEDUFederation = "edu_federation" // topic 5: eduserver → federationsender
	TopicPDUFederation = "pdu_federation" // topic 6: roomserver → federationsender
	TopicKeyChange     = "key_change"     // topic 7: keyserver → syncapi (device lists; docs/wiring.md)
)
