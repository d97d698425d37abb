// Command parley-bench is Parley's load tool: it drives one or more running servers with
// WebSocket connections and HTTP requests (modes idle, fanout, sends, resume, soak, search, list,
// reactions and webhooks) and reports latency, throughput, delivery correctness and the servers'
// own figures. It speaks only the HTTP and WebSocket contract, so it links none of the server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/parleyhq/parley/devtoken"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley-bench:", err)
		os.Exit(1)
	}
}

const longHelp = `Drive one or more Parley servers with WebSocket connections and HTTP sends, and report
latency, throughput, delivery correctness and the servers' own CPU and memory figures (read
from each server's /metrics before and after the measured window). The servers run on their
own (parley serve); the bench only talks to them at --url.

Each connection is a distinct user; user k is a member of conversation k mod --convs, so a
conversation has conns/convs members, spread over the servers when there are several (and sent
to by each member in turn, through that member's server). Conversations are created through the HTTP API by one of
their members, who adds the others; user ids carry a run id so runs never collide. Tokens are
minted locally with --jwt-secret, the secret the servers verify (PARLEY_JWT_SECRET).

Modes:
  idle    connect --conns, wait until the servers count them, measure the servers' RSS growth
          per connection, hold for --duration, disconnect.
  fanout  connect --conns across --convs conversations, send --rate messages/s for --duration
          (after --warmup), report send->deliver latency, deliveries/s and server CPU per frame.
  sends   (no connections unless --conns) --senders concurrent HTTP senders as fast as possible
          (or at --rate) for --duration; report durable sends/s and the latency of the POST.
  resume  connect --conns (default 100) clients, disconnect them all, send --missed messages
          into each conversation, reconnect them all at once with the resume cursors they
          recorded; report the time from the first reconnect to the last 'resumed' and verify
          that every client got exactly the seqs it missed, in order.
  soak    connect --conns (default 200) across --convs (default 20), send --rate (default 50)
          messages/s for --warmup (default 15s) and then --duration (default 2m, at most 2h);
          every --interval print the servers' RSS, goroutines, open fds and outbox backlog, and
          at the end compare the first sample after the warm-up with the last: "flat" or
          "growing". Leaks show as growth under a load that does not change.
  search  seed --seed messages (default 1,000,000) of chat-like English into --convs (default
          1,000) group conversations through the send route, --senders (default 64) at a time;
          the reader (user u0) is a member of 50 of them. Then --readers (default 4) search as
          the reader (GET /v1/messages/search?q=...&limit=20) for --duration after --warmup:
          one or two words drawn by their frequency in the corpus, rare words, and phrases.
          Reports latency per kind of query and hits per page.
  list    the reader (u0) is in --convs (default 50) conversations, each holding --unread
          (default 10,000) messages from another member; --readers list the reader's
          conversations (GET /v1/conversations?limit=50) for --duration after --warmup. Reports
          latency and checks every page's unread counts. With --mark-read the reader first marks
          every conversation read: the same messages, none unread.
  reactions  --conns (default 500) members of one conversation connect; one message is sent,
          then every member reacts to it (PUT .../reactions/{emoji}, a few emoji) at --rate
          (default: all within one second), --senders at a time. Checks that every reaction is
          stored and that every connection got every reaction.added once, in seq order; reports
          the PUT latency and PUT->deliver latency.
  webhooks  runs a webhook receiver at --webhook-listen (start the servers with --webhook-url
          http://<that address>/ and --webhook-secret, given here too to verify signatures);
          --senders send into --convs (default 100) conversations as fast as they go (or at
          --rate) for --duration after --warmup: durable sends/s and webhooks delivered/s; then
          the time for the webhook backlog to drain. Then the receiver answers 503 for --outage
          (default 1m) while --outage-rate (default 1000) messages/s are sent, and the time to
          drain that backlog once it answers again. Checks seq order per conversation,
          signatures, and that every event arrived.
  presence  --conns (default 10,000) users, 100 to a conversation (--convs default conns/100),
          each watching the presence of its conversation's members (presence.subscribe); then
          --flap-percent (default 5) of the users a minute disconnect for --flap-offline (default
          15s, beyond the servers' grace) and reconnect. After --warmup, over --duration: presence
          frames received/s, the servers' presence transitions and frames, their CPU, and with
          --redis-url the Redis commands/s (INFO), which grow with transitions, not watchers.

search and list seed through the API and reuse what an earlier run seeded: with the same
--run-id, conversations found with their messages are not seeded again (only what they lack is
sent), so a second measurement of the same database starts at once.

Every connection checks its conversations' seqs: each must arrive once, in order, without gap.
The exit status is non-zero when a delivery was lost, duplicated or out of order.

Every flag can also be set as PARLEY_<FLAG>, e.g. --jwt-secret as PARLEY_JWT_SECRET and
--conns as PARLEY_CONNS.`

// flagValues are the flags that need translating before they become a benchConfig.
type flagValues struct {
	urls, secret, issuer, audience string
	dev                            bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg benchConfig
	var fv flagValues
	registerFlags(fs, &cfg, &fv)
	cmd := &ffcli.Command{
		ShortUsage: "parley-bench [flags]",
		ShortHelp:  "Load running Parley servers: connections, fan-out latency, sends/s, resume, soak, search, list, reactions, webhooks.",
		LongHelp:   longHelp,
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("PARLEY")},
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unexpected arguments %q", args)
			}
			if err := cfg.fromFlags(fs, fv); err != nil {
				return err
			}
			b, err := newBench(cfg, stdout, stderr)
			if err != nil {
				return err
			}
			defer b.close()
			return b.run(ctx)
		},
	}
	return cmd.ParseAndRun(ctx, args)
}

func registerFlags(fs *flag.FlagSet, cfg *benchConfig, fv *flagValues) {
	fs.StringVar(&fv.urls, "url", "http://127.0.0.1:8080", "server base URL; several, comma separated, are several nodes: connections and sends are spread over them round-robin")
	fs.StringVar(&fv.secret, "jwt-secret", "", "HS256 secret the servers verify (their PARLEY_JWT_SECRET); tokens are minted locally with it")
	fs.StringVar(&fv.issuer, "jwt-issuer", "", "token issuer (iss), when the servers require one")
	fs.StringVar(&fv.audience, "jwt-audience", "", "token audience (aud), when the servers require one")
	fs.BoolVar(&fv.dev, "dev", false, "without --jwt-secret, sign with the local development secret that 'parley serve --dev' verifies")
	fs.StringVar(&cfg.mode, "mode", "fanout", "what to measure: idle, fanout, sends, resume, soak, search, list, reactions, webhooks or presence (see above)")
	fs.IntVar(&cfg.conns, "conns", -1, "WebSocket connections, one user each (default: 1000; resume: 100; soak: 200; reactions: 500; sends, search, list: 0)")
	fs.IntVar(&cfg.convs, "convs", 0, "conversations; user k is a member of conversation k mod convs (default: conns/50, at least 1; soak: conns/10; sends: 100; search: 1000; list: 50; reactions: 1)")
	fs.Float64Var(&cfg.rate, "rate", -1, "messages per second sent through the HTTP API, spread over the conversations (default: fanout 200; soak 50; sends and resume 0 = as fast as the senders go); reactions: reactions per second (default --conns)")
	fs.IntVar(&cfg.senders, "senders", 0, "concurrent HTTP senders sharing the rate limiter (default: fanout rate/20 within 8..128; sends, search and list seeding, reactions 64; resume 16)")
	fs.DurationVar(&cfg.duration, "duration", 30*time.Second, "length of the measured window (idle: how long connections are held); at most 10m (soak: default 2m, at most 2h)")
	fs.DurationVar(&cfg.warmup, "warmup", 5*time.Second, "before the window: sending without recording (fanout, sends, soak: default 15s), or settling before the RSS is read (idle)")
	fs.DurationVar(&cfg.drain, "drain", 15*time.Second, "after the window, how long to wait for deliveries still on their way")
	fs.DurationVar(&cfg.interval, "interval", 5*time.Second, "soak: time between samples of the servers' /metrics")
	fs.IntVar(&cfg.missed, "missed", 50, "resume: messages sent into each conversation while its members are disconnected")
	fs.IntVar(&cfg.dialConcurrency, "dial-concurrency", 200, "WebSocket handshakes in flight at once")
	fs.IntVar(&cfg.bodyBytes, "body-bytes", 64, "length of each message body: the send time (t=<unix nanos>) padded to this")
	fs.StringVar(&cfg.runID, "run-id", "", "prefix of this run's user ids and client message ids (default: random); search and list reuse what a run of the same id seeded")
	fs.Int64Var(&cfg.seed, "seed", 1_000_000, "search: messages to seed, message i into conversation i mod --convs")
	fs.IntVar(&cfg.unread, "unread", 10_000, "list: messages from others, unread by the reader, in each of its conversations")
	fs.IntVar(&cfg.readers, "readers", 4, "search, list: concurrent requests during the warm-up and the window")
	fs.StringVar(&cfg.webhookListen, "webhook-listen", "127.0.0.1:9099", "webhooks: address of the bench's webhook receiver (the servers' --webhook-url is http://<it>/)")
	fs.StringVar(&cfg.webhookSecret, "webhook-secret", "", "webhooks: the servers' --webhook-secret, to verify every signature (empty: not verified)")
	fs.DurationVar(&cfg.outage, "outage", time.Minute, "webhooks: how long the receiver answers 503 after the sustained window, while the senders go on (0: no outage)")
	fs.Float64Var(&cfg.outageRate, "outage-rate", 1000, "webhooks: messages per second sent during the outage")
	registerPresenceFlags(fs, &cfg.presence)
	fs.BoolVar(&cfg.markRead, "mark-read", false, "list: before measuring, the reader marks every conversation read (for or against the same conversations unread)")
}

// fromFlags completes the configuration from the parsed flags: the servers' URLs, the signing
// secret, and the mode's defaults.
func (c *benchConfig) fromFlags(fs *flag.FlagSet, fv flagValues) error {
	var err error
	if c.urls, err = parseURLs(fv.urls); err != nil {
		return err
	}
	c.secret, c.issuer, c.audience = []byte(fv.secret), fv.issuer, fv.audience
	if fv.secret == "" {
		if !fv.dev {
			return errors.New("no signing secret: set --jwt-secret (PARLEY_JWT_SECRET) to the secret the servers verify, or --dev")
		}
		if c.secret, err = devtoken.LocalSecret(); err != nil {
			return err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		c.durationSet = c.durationSet || f.Name == "duration"
		c.warmupSet = c.warmupSet || f.Name == "warmup"
	})
	return c.fillDefaults()
}
