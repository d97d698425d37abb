package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
)

// The tests in this file run parley as its users do: a binary, built once, stamped with these as
// make build stamps a release.
const testVersion, testCommit = "v0.0.0-test", "c0ffee1"

var built struct {
	once      sync.Once
	dir, path string
	err       error
}

// parleyBinary builds parley once, as make test builds (buildVars); TestMain removes it.
func parleyBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "parley-cli-test-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "parley")
		ldflags := "-X main.version=" + testVersion + " -X main.commit=" + testCommit
		cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", built.path, ".")
		cmd.Env = append(os.Environ(), buildVars()...)
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, built.err)
	return built.path
}

// buildVars make the go command build as make test does (see the Makefile): with the race
// detector and go-redis compiled without inlining and DWARF, so that the packages the test build
// compiled are reused and only parley is linked (a build of its own would compile every package
// again on a cold cache), and with GOMEMLIMIT, so that no compile needs more than 512 MB.
func buildVars() []string {
	return []string{"GOMEMLIMIT=400MiB", "GOFLAGS=" + os.Getenv("GOFLAGS") + ` -race "-gcflags=github.com/redis/go-redis/v9=-l -dwarf=false"`}
}

// userEnv is the environment of a shell: without PARLEY_ settings nor those of a make running
// the tests; with a development secret of the test's own, and extra.
func userEnv(t *testing.T, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "PARLEY_") && name != "MAKEFLAGS" && name != "MFLAGS" && name != "MAKELEVEL" {
			env = append(env, kv)
		}
	}
	return append(append(env, "XDG_CONFIG_HOME="+t.TempDir()), extra...)
}

// runBinary runs the built parley with args and returns what it printed and its exit status.
func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(parleyBinary(t), args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), errOut.String(), exit.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), errOut.String(), 0
}

// outputWatch is a process's output; it closes seen once the output holds want.
type outputWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *outputWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return len(p), nil
}

func (w *outputWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// interruptWhenListening runs name with args in a process group of its own, waits for "parley
// listening" in its output, sends sig to the group, as Ctrl-C does, and returns the output and
// the exit error. A minute bounds it all.
func interruptWhenListening(t *testing.T, sig syscall.Signal, env []string, name string, args ...string) (string, error) {
	t.Helper()
	return interruptWhenItSays(t, "parley listening", sig, env, name, args...)
}

// interruptWhenItSays is interruptWhenListening waiting for want instead.
func interruptWhenItSays(t *testing.T, want string, sig syscall.Signal, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out := &outputWatch{want: want, seen: make(chan struct{})}
	cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-out.seen:
	case err := <-exited:
		t.Fatalf("%s stopped before it said %q (%v):\n%s", name, want, err, out)
	}
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, sig))
	err := <-exited
	require.NoError(t, ctx.Err(), "%s did not stop within a minute:\n%s", name, out)
	return out.String(), err
}

// A clean stop, on SIGINT (Ctrl-C) or SIGTERM, exits 0.
func TestServeExitsZeroAfterACleanStop(t *testing.T) {
	t.Parallel()
	bin, db := parleyBinary(t), dbtest.NewDatabase(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		out, err := interruptWhenListening(t, sig, userEnv(t), bin, "serve", "--dev", "--addr", "127.0.0.1:0", "--database-url", db)
		require.NoError(t, err, "exit after %v:\n%s", sig, out)
		require.Contains(t, out, "parley stopped")
	}
}

// Ctrl-C on `make run` stops parley cleanly, and make reports no error. (With go run, which exits
// 1 when interrupted, make said "Error 1".)
func TestMakeRunStopsCleanlyOnCtrlC(t *testing.T) {
	t.Parallel()
	env := userEnv(t, append(buildVars(), "PARLEY_DATABASE_URL="+dbtest.NewDatabase(t))...)
	makeRun := []string{"make", "--no-print-directory", "-C", "../..", "run", "ADDR=127.0.0.1:0"}

	// From a terminal, make gets the SIGINT too: it waits for parley, then ends by that signal,
	// as after any interrupted recipe.
	out, err := interruptWhenListening(t, syscall.SIGINT, env, makeRun[0], makeRun[1:]...)
	require.NotContains(t, out, "***", "make reports no error")
	require.Contains(t, out, "parley stopped")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, out)
	require.Equal(t, syscall.SIGINT, exit.Sys().(syscall.WaitStatus).Signal(), out)

	// In a script, make run in the background ignores SIGINT: make exits with parley's status, 0.
	background := append([]string{"-c", `trap "" INT; exec "$@"`, "sh"}, makeRun...)
	out, err = interruptWhenListening(t, syscall.SIGINT, env, "sh", background...)
	require.NoError(t, err, out)
	require.NotContains(t, out, "***", "make reports no error")
}

// What users see of a command line parley cannot run: exit status 2, on stderr the error naming
// what is wrong and the usage listing the commands to use instead. Help they ask for exits 0.
func TestCommandLineMistakesExitTwoListingTheCommands(t *testing.T) {
	t.Parallel()
	rootCommands := []string{"  serve ", "  migrate ", "  token ", "  webhooks ", "  version ", "  help "}
	for _, c := range []struct {
		args, first string
		status      int
		lists       []string
	}{
		{"", "DESCRIPTION", 2, rootCommands},
		{"bogus", `parley: unknown command "bogus"`, 2, rootCommands},
		{"migrate", "DESCRIPTION", 2, []string{"  up ", "  status "}},
		{"migrate bogus", `parley: unknown command "bogus"`, 2, []string{"  up ", "  status "}},
		{"token", "parley: token takes one user id", 2, []string{"  parley token [flags] <user-id>"}},
		{"serve --bogus", "parley: flag provided but not defined: -bogus", 2, []string{"  -addr "}},
		{"-h", "DESCRIPTION", 0, rootCommands},
		{"help", "DESCRIPTION", 0, rootCommands},
		{"help migrate", "DESCRIPTION", 0, []string{"  up ", "  status "}},
		{"migrate up -h", "DESCRIPTION", 0, []string{"  -database-url "}},
		{"webhooks", "DESCRIPTION", 2, []string{"  list ", "  retry "}},
		{"webhooks retry", "parley: retry takes --all or the ids of dead letters", 2, []string{"  parley webhooks retry [flags] (--all | <id>...)"}},
		{"webhooks list -h", "DESCRIPTION", 0, []string{"  -database-url ", "  -json=false ", "  -limit "}},
	} {
		stdout, stderr, status := runBinary(t, userEnv(t), strings.Fields(c.args)...)
		require.Equal(t, c.status, status, "parley %s:\n%s%s", c.args, stdout, stderr)
		shown, other := stderr, stdout // a mistake on stderr, asked-for help on stdout
		if c.status == 0 {
			shown, other = stdout, stderr
		}
		require.Empty(t, other, "parley %s", c.args)
		require.True(t, strings.HasPrefix(shown, c.first+"\n"), "parley %s:\n%s", c.args, shown)
		for _, line := range c.lists {
			require.Contains(t, shown, "\n"+line, "parley %s", c.args)
		}
	}
}

// A value a flag does not take stops parley with one line naming the flag, or the environment
// variable, and what it takes.
func TestBadFlagValuesNameTheFlagAndWhatItTakes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ env, args, want string }{
		{"PARLEY_DEV=yes", "serve", `PARLEY_DEV: "yes" is not a boolean (want true or false, 1 or 0)`},
		{"", "serve --dev=yes", `--dev: "yes" is not a boolean (want true or false, 1 or 0)`},
		{"PARLEY_MIGRATE=no", "serve", `PARLEY_MIGRATE: "no" is not a boolean (want true or false, 1 or 0)`},
		{"PARLEY_LOG_LEVEL=loud", "serve", `PARLEY_LOG_LEVEL: "loud" is not a log level (want debug, info, warn or error)`},
		{"", "serve --log-format xml", `--log-format: "xml" is not a log format (want text or json)`},
		{"PARLEY_HEARTBEAT=25", "serve", `PARLEY_HEARTBEAT: "25" is not a duration (want one such as 250ms, 30s or 5m)`},
		{"", "token --ttl 1d alice", `--ttl: "1d" is not a duration (want one such as 30m or 24h)`},
	} {
		stdout, stderr, status := runBinary(t, userEnv(t, strings.Fields(c.env)...), strings.Fields(c.args)...)
		require.Equal(t, 2, status, "%s parley %s:\n%s", c.env, c.args, stderr)
		require.Equal(t, "parley: "+c.want+"\n", stderr, "%s parley %s", c.env, c.args)
		require.Empty(t, stdout)
	}
}

// `parley version` says what make build stamped: version, commit and Go version.
func TestVersionPrintsWhatTheBuildStamped(t *testing.T) {
	t.Parallel()
	stdout, stderr, status := runBinary(t, userEnv(t), "version")
	require.Zero(t, status, stderr)
	require.Equal(t, fmt.Sprintf("parley %s (commit %s, %s)\n", testVersion, testCommit, runtime.Version()), stdout)
}

// Redis down at start does not stop serve: it listens, degraded, and go-redis's own lines come
// through the structured log, not as raw lines of their own.
func TestServeStartsWithRedisDown(t *testing.T) {
	t.Parallel()
	bin, db := parleyBinary(t), dbtest.NewDatabase(t)
	out, err := interruptWhenListening(t, syscall.SIGTERM, userEnv(t), bin, "serve", "--dev", "--addr", "127.0.0.1:0",
		"--database-url", db, "--redis-url", "redis://127.0.0.1:1/0", "--log-level", "debug")
	require.NoError(t, err, out)
	require.Contains(t, out, `msg="redis: not reachable at start; the node runs alone, events wait in the outbox"`)
	require.Contains(t, out, `msg="redis client" detail="connection pool: failed to dial`)
	for line := range strings.Lines(out) {
		require.True(t, strings.HasPrefix(line, "time="), "every line is structured: %q", line)
	}
}

// Ctrl-C while serve waits for PostgreSQL is a clean stop too.
func TestServeInterruptedWhileWaitingForPostgreSQLExitsZero(t *testing.T) {
	t.Parallel()
	out, err := interruptWhenItSays(t, "PostgreSQL is not reachable yet", syscall.SIGINT, userEnv(t), parleyBinary(t),
		"serve", "--dev", "--addr", "127.0.0.1:0", "--database-url", "postgres://postgres@127.0.0.1:1/parley?sslmode=disable")
	require.NoError(t, err, out)
	require.Contains(t, out, "parley stopped before it started")
}
