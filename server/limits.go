package server

// Rate is a sustained rate with a burst: PerMinute requests a minute on average, up to Burst at
// once after a quiet spell (GCRA). The zero Rate is no limit.
type Rate struct {
	PerMinute int
	Burst     int
}

// Limits are the request rates Parley allows. Sends and Writes are per user (writes are every
// POST, PUT, PATCH and DELETE other than a send); Handshakes are WebSocket upgrades per client
// address. Typing frames are limited per connection, in HubConfig.
type Limits struct {
	Sends      Rate
	Writes     Rate
	Handshakes Rate
}

// DefaultLimits allow what a person at a keyboard does, with room for a burst.
func DefaultLimits() Limits {
	return Limits{
		Sends:      Rate{PerMinute: 600, Burst: 20},
		Writes:     Rate{PerMinute: 300, Burst: 20},
		Handshakes: Rate{PerMinute: 600, Burst: 60},
	}
}
