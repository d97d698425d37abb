package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
)

// nodeProcessEnv, when set, makes the test binary a sending node rather than a test run: TestMain
// hands its value, a nodeProcessSpec in JSON, to runNodeProcess. The crash test starts a node this
// way so that it can kill it with SIGKILL.
const nodeProcessEnv = "PARLEY_NOTIFY_NODE"

type nodeProcessSpec struct {
	DatabaseURL string
	Config      Config
}

// runNodeProcess sends webhooks as spec says, prints "ready" and runs until killed (or a minute
// passes, should the test that started it be gone).
func runNodeProcess(encoded string) int {
	var spec nodeProcessSpec
	if err := json.Unmarshal([]byte(encoded), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", nodeProcessEnv, err)
		return 2
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, spec.DatabaseURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pool.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	leases := NewLeases(spec.Config, pool, logger)
	sender, err := NewSender(spec.Config, pool, leases, NewMetrics(prometheus.NewRegistry(), pool), logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := leases.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := sender.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	time.Sleep(time.Minute)
	return 1
}

// TestNodeKilledMidBatchLosesNothing kills a sending node with SIGKILL while it sends: another
// node takes its shards once their leases lapse and sends the rest. Nothing is lost, order per
// conversation holds, and only what the killed node had sent (in flight, or acknowledged and not
// yet recorded) is sent twice.
func TestNodeKilledMidBatchLosesNothing(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDatabase(t)
	pool, err := pgxpool.New(t.Context(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	recv := newReceiver(t)
	// Slow answers, so that the kill finds POSTs in flight and rounds unrecorded.
	recv.setAnswer(func(string) int { time.Sleep(2 * time.Millisecond); return 200 })

	crashed := testConfig(recv.URL()+"/crashed", "crashed")
	const convs, seqs = 12, 40
	for range convs {
		conv := uuid.New()
		for seq := int64(1); seq <= seqs; seq += 10 {
			handOff(t, pool, crashed, conv, seq, seq+1, seq+2, seq+3, seq+4, seq+5, seq+6, seq+7, seq+8, seq+9)
		}
	}

	spec, err := json.Marshal(nodeProcessSpec{DatabaseURL: dbURL, Config: crashed})
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeProcessEnv+"="+string(spec))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("node process stderr:\n%s", stderr.String())
		}
	})
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	require.Equal(t, "ready\n", line, stderr.String())

	waitFor(t, 10*time.Second, "the node sending", func() bool { return recv.ackedCount() >= convs*seqs/4 })
	kill()

	recv.setAnswer(nil)
	startNode(t, pool, testConfig(recv.URL()+"/survivor", "survivor"))
	waitFor(t, 15*time.Second, "every webhook acknowledged", func() bool { return recv.ackedCount() == convs*seqs })
	recv.checkContract()
	// What the killed node sent, in flight at its death included, arrived with its path.
	sentByCrashed := map[string]bool{}
	survivor := 0
	for _, d := range recv.all() {
		if d.Path == "/crashed" {
			sentByCrashed[d.ID] = true
		} else {
			survivor++
		}
	}
	require.Positive(t, survivor, "killed before it was done")
	seen := map[string]int{}
	for _, d := range recv.all() {
		if seen[d.ID]++; seen[d.ID] > 1 {
			require.True(t, sentByCrashed[d.ID], "%s sent twice but not by the killed node", d.ID)
		}
	}
	waitFor(t, 5*time.Second, "the outbox of webhooks empty", func() bool { return countRows(t, pool, "webhook_deliveries") == 0 })
}
