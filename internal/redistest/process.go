package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Process is a private redis-server without persistence, on a port of its own: killed, it comes
// back empty. Tests of faults and of start-up start and kill it.
type Process struct {
	Addr string
	cmd  *exec.Cmd
}

// NewProcess picks a free local port for a redis-server that is not started yet; whatever runs
// there is killed when the test ends.
func NewProcess(tb testing.TB) *Process {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("redistest: this test starts a redis-server of its own: install it (see README, \"Running the tests\"): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: pick a port: %v", err)
	}
	p := &Process{Addr: ln.Addr().String()}
	if err := ln.Close(); err != nil {
		tb.Fatalf("redistest: pick a port: %v", err)
	}
	tb.Cleanup(p.Kill)
	return p
}

// StartProcess is NewProcess, started.
func StartProcess(tb testing.TB) *Process {
	tb.Helper()
	p := NewProcess(tb)
	if err := p.Start(context.Background()); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return p
}

// URL is the process's Redis URL.
func (p *Process) URL() string { return "redis://" + p.Addr + "/0" }

// Start runs redis-server on the process's port and waits until it answers.
func (p *Process) Start(ctx context.Context) error {
	_, port, err := net.SplitHostPort(p.Addr)
	if err != nil {
		return err
	}
	p.cmd = exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	client := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1})
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		err := client.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		timer := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("redis-server on %s does not answer: %w", p.Addr, err)
		case <-timer.C:
		}
	}
}

// Kill ends redis-server with SIGKILL and waits for it. Safe when it is not running.
func (p *Process) Kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}
