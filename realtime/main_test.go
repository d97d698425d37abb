package realtime

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the hub's sweeper, the
// dispatcher's loops and the Redis broker's consumers must all end with their owner.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
