package notify

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (the leases' and the sender's
// loops, their POSTs, idle HTTP connections). With nodeProcessEnv set the binary is a sending node
// of a crash test instead (node_process_test.go).
func TestMain(m *testing.M) {
	if spec := os.Getenv(nodeProcessEnv); spec != "" {
		os.Exit(runNodeProcess(spec))
	}
	goleak.VerifyTestMain(m)
}
