package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/gen/api"
)

// bench is one run of the load tool.
type bench struct {
	cfg benchConfig
	out *report
	log io.Writer

	httpTransport, wsTransport *http.Transport
	httpc, wsHTTP              *http.Client
	api                        []*api.ClientWithResponses
	wsURLs                     []string

	tokens []string     // by user index
	convs  []*benchConv // by conversation index
	open   []*benchConn // every connection started, closed by close()

	latency          *histogram // send→deliver of messages sent within the window (reactions: PUT→deliver)
	post             *histogram // POST latency of sends started within the window (reactions: PUT)
	winStart, winEnd atomic.Int64
	sendSeq          atomic.Int64
	stats            benchStats
	corpus           *corpus // search, list: what the seeded messages say
	// reactedAt is when each user's reaction PUT started (unix nanos), by user id; the map is
	// filled before any connection starts and only read afterwards (reactions).
	reactedAt map[string]*atomic.Int64

	mu         sync.Mutex
	closeCodes map[string]int
	badFrames  []string
	sendErrs   errorTally
}

type benchStats struct {
	eventFrames, messages, setupEvents, unexpected atomic.Int64
	reactionEvents                                 atomic.Int64
	gaps, dups, resyncs, errorFrames, badFrames    atomic.Int64
	serverCloses                                   atomic.Int64
	presenceFrames                                 atomic.Int64
	sentOK, sentErr, windowOK, windowErr           atomic.Int64
}

// benchConv is one conversation of the run. base is its last seq once set up; final its last seq
// after the senders stopped; held how many messages it held when found (search and list, which
// reuse what an earlier run of the same id seeded).
type benchConv struct {
	index   int
	id      uuid.UUID
	idStr   string
	members []int
	base    int64
	final   atomic.Int64
	held    int64
}

func newBench(cfg benchConfig, stdout, stderr io.Writer) (*bench, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	b := &bench{
		cfg: cfg, out: &report{w: stdout}, log: stderr,
		httpTransport: &http.Transport{
			DialContext: dialer.DialContext, MaxIdleConns: 1024, MaxIdleConnsPerHost: cfg.senders + 64,
			IdleConnTimeout: 90 * time.Second,
		},
		wsTransport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: -1},
		latency:     newHistogram(),
		post:        newHistogram(),
		closeCodes:  map[string]int{},
	}
	b.httpc = &http.Client{Transport: b.httpTransport}
	b.wsHTTP = &http.Client{Transport: b.wsTransport}
	b.winStart.Store(math.MaxInt64)
	b.winEnd.Store(math.MaxInt64)
	for _, u := range cfg.urls {
		client, err := api.NewClientWithResponses(u, api.WithHTTPClient(b.httpc))
		if err != nil {
			return nil, fmt.Errorf("client for %s: %w", u, err)
		}
		b.api = append(b.api, client)
		b.wsURLs = append(b.wsURLs, "ws"+strings.TrimPrefix(u, "http")+"/v1/ws")
	}
	users, members := layout(cfg)
	if err := b.mintTokens(users); err != nil {
		return nil, err
	}
	b.convs = make([]*benchConv, cfg.convs)
	for j := range b.convs {
		b.convs[j] = &benchConv{index: j, members: members[j]}
	}
	return b, nil
}

// mintTokens signs one token per user, valid longer than the longest run: an expired one closes
// its connection (4401) mid-soak.
func (b *bench) mintTokens(users int) error {
	cfg := b.cfg
	ttl := 2*max(maxDuration, cfg.duration) + cfg.warmup + cfg.drain + time.Hour
	b.tokens = make([]string, users)
	for k := range users {
		token, err := devtoken.Issue(cfg.secret, cfg.userID(k), cfg.issuer, cfg.audience, ttl)
		if err != nil {
			return err
		}
		b.tokens[k] = token
	}
	return nil
}

// close ends every connection still open and the idle HTTP connections.
func (b *bench) close() {
	b.closeConns(b.open)
	b.open = nil
	b.httpTransport.CloseIdleConnections()
	b.wsTransport.CloseIdleConnections()
}

func (b *bench) run(ctx context.Context) error {
	r := b.out
	r.line("mode", b.cfg.mode)
	r.line("run id", b.cfg.runID)
	r.linef("servers", "%d (%s)", len(b.cfg.urls), strings.Join(b.cfg.urls, ", "))
	switch b.cfg.mode {
	case "idle":
		return b.runIdle(ctx)
	case "fanout":
		return b.runFanout(ctx)
	case "sends":
		return b.runSends(ctx)
	case "soak":
		return b.runSoak(ctx)
	case "search":
		return b.runSearch(ctx)
	case "list":
		return b.runList(ctx)
	case "reactions":
		return b.runReactions(ctx)
	case "webhooks":
		return b.runWebhooks(ctx)
	case "presence":
		return b.runPresence(ctx)
	default:
		return b.runResume(ctx)
	}
}

func (b *bench) auth(user int) api.RequestEditorFn {
	token := b.tokens[user]
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func (b *bench) convsOf(user int) []*benchConv { return []*benchConv{b.convs[user%len(b.convs)]} }

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

// parallel runs fn(i) for i in [0, n) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
