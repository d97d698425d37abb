package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/parleyhq/parley/devtoken"
)

// benchMaxDuration bounds a run: a load tool pointed at the wrong server should not hold it for
// hours. A soak is meant to be long, but is bounded too.
const (
	benchMaxDuration = 10 * time.Minute
	soakMaxDuration  = 2 * time.Hour
)

// benchConfig is what `parley bench` was asked to do, with the mode's defaults filled in.
type benchConfig struct {
	urls             []string
	secret           []byte
	issuer, audience string
	mode             string
	conns, convs     int
	rate             float64 // messages per second; 0 is as fast as the senders go
	senders          int
	duration         time.Duration
	warmup           time.Duration
	drain            time.Duration
	interval         time.Duration // soak: time between samples of the servers' figures
	missed           int
	dialConcurrency  int
	bodyBytes        int
	runID            string
	// durationSet and warmupSet say the flags were given, so that soak's longer defaults apply
	// only when they were not.
	durationSet, warmupSet bool
}

const benchLongHelp = `Drive one or more Parley servers with WebSocket connections and HTTP sends, and report
latency, throughput, delivery correctness and the servers' own CPU and memory figures (read
from each server's /metrics before and after the measured window).

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

Every connection checks its conversations' seqs: each must arrive once, in order, without gap.
The exit status is non-zero when a delivery was lost, duplicated or out of order.

Every flag can also be set as PARLEY_<FLAG>, e.g. --jwt-secret as PARLEY_JWT_SECRET and
--conns as PARLEY_CONNS.`

func benchCommand(stdout, stderr io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("parley bench", flag.ContinueOnError)
	var (
		cfg                                  benchConfig
		urls, secret, issuer, audience, mode string
		dev                                  bool
	)
	fs.StringVar(&urls, "url", "http://127.0.0.1:8080", "server base URL; several, comma separated, are several nodes: connections and sends are spread over them round-robin")
	fs.StringVar(&secret, "jwt-secret", "", "HS256 secret the servers verify (their PARLEY_JWT_SECRET); tokens are minted locally with it")
	fs.StringVar(&issuer, "jwt-issuer", "", "token issuer (iss), when the servers require one")
	fs.StringVar(&audience, "jwt-audience", "", "token audience (aud), when the servers require one")
	fs.BoolVar(&dev, "dev", false, "without --jwt-secret, sign with the local development secret that 'parley serve --dev' verifies")
	fs.StringVar(&mode, "mode", "fanout", "what to measure: idle, fanout, sends, resume or soak (see above)")
	fs.IntVar(&cfg.conns, "conns", -1, "WebSocket connections, one user each (default: 1000; resume: 100; soak: 200; sends: 0)")
	fs.IntVar(&cfg.convs, "convs", 0, "conversations; user k is a member of conversation k mod convs (default: conns/50, at least 1; soak: conns/10; sends: 100)")
	fs.Float64Var(&cfg.rate, "rate", -1, "messages per second sent through the HTTP API, spread over the conversations (default: fanout 200; soak 50; sends and resume 0 = as fast as the senders go)")
	fs.IntVar(&cfg.senders, "senders", 0, "concurrent HTTP senders sharing the rate limiter (default: fanout rate/20 within 8..128; sends 64; resume 16)")
	fs.DurationVar(&cfg.duration, "duration", 30*time.Second, "length of the measured window (idle: how long connections are held); at most 10m (soak: default 2m, at most 2h)")
	fs.DurationVar(&cfg.warmup, "warmup", 5*time.Second, "before the window: sending without recording (fanout, sends, soak: default 15s), or settling before the RSS is read (idle)")
	fs.DurationVar(&cfg.drain, "drain", 15*time.Second, "after the window, how long to wait for deliveries still on their way")
	fs.DurationVar(&cfg.interval, "interval", 5*time.Second, "soak: time between samples of the servers' /metrics")
	fs.IntVar(&cfg.missed, "missed", 50, "resume: messages sent into each conversation while its members are disconnected")
	fs.IntVar(&cfg.dialConcurrency, "dial-concurrency", 200, "WebSocket handshakes in flight at once")
	fs.IntVar(&cfg.bodyBytes, "body-bytes", 64, "length of each message body: the send time (t=<unix nanos>) padded to this")
	fs.StringVar(&cfg.runID, "run-id", "", "prefix of this run's user ids and client message ids (default: random)")

	return &ffcli.Command{
		Name:       "bench",
		ShortUsage: "parley bench [flags]",
		ShortHelp:  "Load a running server: connections, fan-out latency, sends/s, resume, soak.",
		LongHelp:   benchLongHelp,
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("PARLEY")},
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unexpected arguments %q", args)
			}
			var err error
			if cfg.urls, err = parseBenchURLs(urls); err != nil {
				return err
			}
			auth := authFlags{secret: secret, issuer: issuer, audience: audience, dev: dev}
			authCfg, err := auth.config()
			if err != nil {
				return errors.New("no signing secret: set --jwt-secret (PARLEY_JWT_SECRET) to the secret the servers verify, or --dev")
			}
			cfg.secret, cfg.issuer, cfg.audience = authCfg.Secret, authCfg.Issuer, authCfg.Audience
			cfg.mode = mode
			fs.Visit(func(f *flag.Flag) {
				cfg.durationSet = cfg.durationSet || f.Name == "duration"
				cfg.warmupSet = cfg.warmupSet || f.Name == "warmup"
			})
			if err := cfg.fillDefaults(); err != nil {
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
}

func parseBenchURLs(list string) ([]string, error) {
	var out []string
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimRight(strings.TrimSpace(raw), "/")
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--url %q: want http(s)://host:port", raw)
		}
		out = append(out, raw)
	}
	if len(out) == 0 {
		return nil, errors.New("--url: at least one server URL is needed")
	}
	return out, nil
}

// fillDefaults applies the mode's defaults and refuses what cannot be run.
func (c *benchConfig) fillDefaults() error {
	switch c.mode {
	case "idle", "fanout", "sends", "resume", "soak":
	default:
		return fmt.Errorf("--mode %q: want idle, fanout, sends, resume or soak", c.mode)
	}
	maxDuration := benchMaxDuration
	if c.mode == "soak" {
		maxDuration = soakMaxDuration
		if !c.durationSet {
			c.duration = 2 * time.Minute
		}
		if !c.warmupSet {
			c.warmup = 15 * time.Second
		}
	}
	if c.duration <= 0 || c.duration > maxDuration {
		return fmt.Errorf("--duration %s: want more than 0 and at most %s", c.duration, maxDuration)
	}
	if c.mode == "soak" && (c.interval <= 0 || c.interval > c.duration) {
		return fmt.Errorf("--interval %s: want more than 0 and at most --duration (%s)", c.interval, c.duration)
	}
	if c.warmup < 0 || c.warmup > benchMaxDuration {
		return fmt.Errorf("--warmup %s: want 0 to %s", c.warmup, benchMaxDuration)
	}
	if c.drain < 0 || c.drain > benchMaxDuration {
		return fmt.Errorf("--drain %s: want 0 to %s", c.drain, benchMaxDuration)
	}
	if c.conns < 0 {
		switch c.mode {
		case "sends":
			c.conns = 0
		case "resume":
			c.conns = 100
		case "soak":
			c.conns = 200
		default:
			c.conns = 1000
		}
	}
	if c.conns == 0 && c.mode != "sends" {
		return fmt.Errorf("--conns: mode %s needs at least one connection", c.mode)
	}
	if c.convs <= 0 {
		switch {
		case c.mode == "sends" && c.conns == 0:
			c.convs = 100
		case c.mode == "soak":
			c.convs = max(1, c.conns/10)
		default:
			c.convs = max(1, c.conns/50)
		}
	}
	if c.conns > 0 && c.convs > c.conns {
		return fmt.Errorf("--convs %d: at most --conns (%d), so that every conversation has a connected member", c.convs, c.conns)
	}
	if c.rate < 0 {
		c.rate = 0
		switch c.mode {
		case "fanout":
			c.rate = 200
		case "soak":
			c.rate = 50
		}
	}
	if (c.mode == "fanout" || c.mode == "soak") && c.rate == 0 {
		return fmt.Errorf("--rate: %s needs a send rate (messages per second)", c.mode)
	}
	if c.senders <= 0 {
		switch c.mode {
		case "sends":
			c.senders = 64
		case "resume":
			c.senders = 16
		default:
			c.senders = min(max(int(c.rate/20), 8), 128)
		}
	}
	if c.missed < 1 && c.mode == "resume" {
		return errors.New("--missed: at least 1")
	}
	if c.dialConcurrency < 1 {
		return errors.New("--dial-concurrency: at least 1")
	}
	if c.bodyBytes > 4000 {
		return errors.New("--body-bytes: at most 4000 (the API's limit)")
	}
	if c.runID == "" {
		raw := make([]byte, 3)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		c.runID = "b" + hex.EncodeToString(raw)
	}
	// user ids are bench-<run id>-u<k>; keep them within the API's 128 characters
	if err := devtoken.CheckUserID(c.userID(c.conns + c.convs)); err != nil || len(c.runID) > 64 {
		return fmt.Errorf("--run-id %q: want up to 64 of [A-Za-z0-9._:@-]", c.runID)
	}
	return nil
}

func (c *benchConfig) userID(k int) string { return fmt.Sprintf("bench-%s-u%d", c.runID, k) }
