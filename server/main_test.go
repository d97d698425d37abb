package server

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(nodeProcessEnv); spec != "" {
		os.Exit(runNodeProcess(spec)) // a node of a fault test (nodeprocess_test.go), not a test run
	}
	goleak.VerifyTestMain(m)
}
