//go:build !unix

package main

import "time"

// benchSelfCPU is unknown on this platform.
func benchSelfCPU() time.Duration { return -1 }
