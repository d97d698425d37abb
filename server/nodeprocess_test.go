package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// nodeProcessEnv, when set, makes the test binary a Parley node rather than a test run: TestMain
// hands its value, a nodeProcessSpec in JSON, to runNodeProcess. Fault tests start nodes this way
// so that they can kill one with SIGKILL.
const nodeProcessEnv = "PARLEY_FAULT_NODE"

// nodeProcessReady starts the one line a node process writes to stdout, followed by its address.
const nodeProcessReady = "parley node listening on "

// nodeProcessSpec is what a node process needs to join a cluster.
type nodeProcessSpec struct {
	DatabaseURL, RedisURL, Namespace, NodeID string
}

// runNodeProcess builds a server as the cluster's node (configured like an in-process node of a
// fault run: faultOptions and quickGone), serves it on a random local port, prints the address,
// and serves until the process is killed. It returns only when it could not start.
func runNodeProcess(encoded string) int {
	var spec nodeProcessSpec
	if err := json.Unmarshal([]byte(encoded), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", nodeProcessEnv, err)
		return 2
	}
	cfg := testConfig(spec.DatabaseURL)
	(&cluster{dbURL: spec.DatabaseURL, redisURL: spec.RedisURL, namespace: spec.Namespace}).configure(spec.NodeID)(&cfg)
	faultOptions(&cfg)
	quickGone(&cfg)
	cfg.Migrate = false // the test's database is migrated
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := New(context.Background(), cfg, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "node %s: %v\n", spec.NodeID, err)
		return 1
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "node %s: %v\n", spec.NodeID, err)
		return 1
	}
	fmt.Printf("%s%s\n", nodeProcessReady, ln.Addr())
	if err := srv.Serve(context.Background(), ln); err != nil {
		fmt.Fprintf(os.Stderr, "node %s: %v\n", spec.NodeID, err)
	}
	return 1
}

// nodeProcess is a node of a cluster running in a process of its own: this test binary, run
// again with nodeProcessEnv set.
type nodeProcess struct {
	id     string
	base   string
	cmd    *exec.Cmd
	stderr lockedBuffer
	once   sync.Once
}

// startNodeProcess starts node id of the cluster in a process of its own and waits until it
// serves. Its PostgreSQL sessions carry the application name "parley-<id>". The process is killed
// when the test ends, if the test has not killed it; a data race it reported fails the test.
func startNodeProcess(t *testing.T, c *cluster, id string) *nodeProcess {
	t.Helper()
	dbURL, err := url.Parse(c.dbURL)
	require.NoError(t, err)
	q := dbURL.Query()
	q.Set("application_name", "parley-"+id)
	dbURL.RawQuery = q.Encode()
	spec, err := json.Marshal(nodeProcessSpec{DatabaseURL: dbURL.String(), RedisURL: c.redisURL, Namespace: c.namespace, NodeID: id})
	require.NoError(t, err)

	p := &nodeProcess{id: id, cmd: exec.Command(os.Args[0], "-test.run=^$")}
	p.cmd.Env = append(os.Environ(), nodeProcessEnv+"="+string(spec))
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		p.kill()
		if strings.Contains(p.stderr.String(), "DATA RACE") {
			t.Errorf("node process %s reported a data race", id)
		}
		if t.Failed() {
			t.Logf("node process %s, stderr:\n%s", id, p.stderr.String())
		}
	})

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), nodeProcessReady)
		require.Truef(t, ok, "node process %s did not start: %s", id, p.stderr.String())
		p.base = "http://" + addr
	case <-time.After(30 * time.Second):
		p.kill() // closes stdout: the reader returns
		<-lines
		t.Fatalf("node process %s did not start within 30s: %s", id, p.stderr.String())
	}
	return p
}

// kill ends the process with SIGKILL, as a crash would, and waits for it. Safe twice.
func (p *nodeProcess) kill() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	})
}

// freeze stops the process (SIGSTOP) and returns once the kernel reports it stopped, so that what
// PostgreSQL shows of its sessions is what they hold until thaw or kill.
func (p *nodeProcess) freeze(ctx context.Context) error {
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	stat := fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)
	return poll(ctx, time.Millisecond, func() bool {
		data, err := os.ReadFile(stat)
		if err != nil {
			return true // no /proc: the signal is delivered promptly anyway
		}
		// pid (comm) state …: comm may hold spaces and parentheses, the state follows the last ')'.
		rest := data[bytes.LastIndexByte(data, ')')+1:]
		fields := strings.Fields(string(rest))
		return len(fields) > 0 && (fields[0] == "T" || fields[0] == "t")
	})
}

// thaw lets a frozen process run again.
func (p *nodeProcess) thaw() error { return p.cmd.Process.Signal(syscall.SIGCONT) }

// lockedBuffer is a bytes.Buffer that a process's output can be copied into while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
