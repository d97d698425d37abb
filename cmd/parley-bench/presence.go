package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/gen/api"
)

// presenceConfig is what the presence mode adds to the others' flags.
type presenceConfig struct {
	flapPercent float64       // users who flap a minute, in percent of --conns
	offline     time.Duration // how long a flapping user stays away: longer than the servers' grace
	redisURL    string        // the servers' Redis, read for its command counts (INFO)
}

func registerPresenceFlags(fs interface {
	Float64Var(p *float64, name string, value float64, usage string)
	DurationVar(p *time.Duration, name string, value time.Duration, usage string)
	StringVar(p *string, name string, value string, usage string)
}, c *presenceConfig) {
	fs.Float64Var(&c.flapPercent, "flap-percent", 5, "presence: users who disconnect and come back a minute, in percent of --conns")
	fs.DurationVar(&c.offline, "flap-offline", 15*time.Second, "presence: how long a flapping user stays away (longer than the servers' presence grace, 10s by default, or nothing shows)")
	fs.StringVar(&c.redisURL, "redis-url", "", "presence: the servers' Redis, whose INFO gives the commands it ran in the window (empty: not reported)")
}

// presenceRun is one presence measurement: the connection of each user, replaced when it flaps.
type presenceRun struct {
	b     *bench
	mu    sync.Mutex
	live  []*benchConn // by user; nil while the user is away
	away  map[int]bool
	flaps atomic.Int64
}

// runPresence connects --conns users, 100 to a conversation by default, each watching the
// presence of its conversation's members; then --flap-percent of the users a minute disconnect
// for --flap-offline and come back. It reports the presence frames received, the servers' CPU and
// the Redis commands run, which must grow with transitions and nodes only, not with watchers.
func (b *bench) runPresence(ctx context.Context) error {
	up, _, err := b.connectMeasured(ctx)
	if err != nil {
		return err
	}
	p := &presenceRun{b: b, live: make([]*benchConn, len(b.tokens)), away: map[int]bool{}}
	for _, c := range up {
		p.live[c.user] = c
	}
	if err := p.subscribeAll(ctx, up); err != nil {
		return err
	}

	flapCtx, stopFlapping := context.WithCancel(ctx)
	var flappers sync.WaitGroup
	flappers.Go(func() { p.flap(flapCtx, &flappers) })
	defer func() {
		stopFlapping()
		flappers.Wait()
		p.closeAll()
	}()
	b.logf("flapping %.1f%% of users a minute (away %s each): %s warmup, then %s measured", b.cfg.presence.flapPercent, b.cfg.presence.offline, b.cfg.warmup, b.cfg.duration)
	if err := sleepCtx(ctx, b.cfg.warmup); err != nil {
		return err
	}
	return p.measure(ctx)
}

// presenceSample is what the window is measured by.
type presenceSample struct {
	at             time.Time
	servers        []serverSample
	presence       []map[string]float64 // per server: its presence counters
	frames, flaps  int64
	redis          map[string]float64 // INFO: total_commands_processed and cmdstat calls
	redisAvailable bool
}

func (p *presenceRun) sample(ctx context.Context) (presenceSample, error) {
	b := p.b
	s := presenceSample{at: time.Now(), frames: b.stats.presenceFrames.Load(), flaps: p.flaps.Load()}
	var err error
	if s.servers, err = b.scrapeAll(ctx); err != nil {
		return s, err
	}
	for _, u := range b.cfg.urls {
		m, err := scrapePresence(ctx, b.httpc, u)
		if err != nil {
			return s, err
		}
		s.presence = append(s.presence, m)
	}
	if b.cfg.presence.redisURL != "" {
		s.redis, err = redisCommands(ctx, b.cfg.presence.redisURL)
		if err != nil {
			return s, err
		}
		s.redisAvailable = true
	}
	return s, nil
}

func (p *presenceRun) measure(ctx context.Context) error {
	b := p.b
	before, err := p.sample(ctx)
	if err != nil {
		return err
	}
	self0 := benchSelfCPU()
	if err := sleepCtx(ctx, b.cfg.duration); err != nil {
		return err
	}
	after, err := p.sample(ctx)
	if err != nil {
		return err
	}
	window := after.at.Sub(before.at).Seconds()
	r := b.out
	r.linef("watching", "%d connections, each the presence of its conversation's %d members", b.cfg.conns, b.cfg.conns/b.cfg.convs)
	r.linef("window", "%.1f s after %s warmup", window, b.cfg.warmup)
	r.linef("flaps started in window", "%d (%.1f/s; target %.1f/s), each away %s", after.flaps-before.flaps, float64(after.flaps-before.flaps)/window,
		b.cfg.presence.flapPercent/100*float64(b.cfg.conns)/60, b.cfg.presence.offline)
	frames := after.frames - before.frames
	r.linef("presence frames received", "%d (%.0f/s)", frames, float64(frames)/window)
	var cpu, transitions, changeFrames float64
	for i := range after.servers {
		cpu += after.servers[i].cpuSeconds - before.servers[i].cpuSeconds
		d := func(name string) float64 { return after.presence[i][name] - before.presence[i][name] }
		transitions += d(`parley_presence_transitions_total{status="online"}`) + d(`parley_presence_transitions_total{status="offline"}`)
		changeFrames += d(`parley_presence_frames_total{kind="change"}`)
		r.linef(fmt.Sprintf("server %d presence", i+1), "transitions %.1f/s, frames queued %.0f/s (change %.0f/s), Redis errors %.0f, watched users %.0f",
			(d(`parley_presence_transitions_total{status="online"}`)+d(`parley_presence_transitions_total{status="offline"}`))/window,
			(d(`parley_presence_frames_total{kind="change"}`)+d(`parley_presence_frames_total{kind="full"}`))/window, d(`parley_presence_frames_total{kind="change"}`)/window,
			sumPrefix(after.presence[i], "parley_presence_redis_errors_total")-sumPrefix(before.presence[i], "parley_presence_redis_errors_total"),
			after.presence[i]["parley_presence_watched_users"])
	}
	r.linef("server CPU", "%.2f s over %.1f s (%.0f%% of a core)", cpu, window, 100*cpu/window)
	if changeFrames > 0 {
		r.linef("server CPU per change frame", "%.1f µs (all the server's CPU in the window)", cpu*1e6/changeFrames)
	}
	if self0 >= 0 {
		r.linef("bench client CPU", "%.2f s", (benchSelfCPU() - self0).Seconds())
	}
	if after.redisAvailable {
		total := after.redis["total_commands_processed"] - before.redis["total_commands_processed"]
		r.linef("Redis commands", "%.0f (%.1f/s)", total, total/window)
		var parts []string
		for _, cmd := range presenceRedisCommands {
			if n := after.redis["cmdstat_"+cmd] - before.redis["cmdstat_"+cmd]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %.1f/s", cmd, n/window))
			}
		}
		r.line("Redis commands by kind", strings.Join(parts, ", "))
		if transitions > 0 {
			r.linef("Redis commands per transition", "%.2f (all commands in the window, streams' reads included)", total/transitions)
		}
	}
	return nil
}

// presenceRedisCommands are the commands presence runs (and the streams' XREADGROUP, to compare).
var presenceRedisCommands = []string{"sadd", "srem", "hset", "publish", "zadd", "zrangebyscore", "sscan", "evalsha", "hmget", "xreadgroup"}

// subscribe watches the members of the connection's conversation.
func (p *presenceRun) subscribe(ctx context.Context, c *benchConn) error {
	var ids []string
	for _, conv := range p.b.convsOf(c.user) {
		for _, k := range conv.members {
			ids = append(ids, p.b.cfg.userID(k))
		}
	}
	frame, err := json.Marshal(api.PresenceSubscribeFrame{Type: api.PresenceSubscribeFrameTypePresenceSubscribe, UserIds: ids})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	frames0 := c.presenceFrames.Load()
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		return fmt.Errorf("send presence.subscribe: %w", err)
	}
	// Wait for the answer (or its absence: a refusal is an error frame, counted elsewhere), so
	// that at most presenceSubscribers subscriptions are under way, as a client's would be.
	answer := time.Now().Add(5 * time.Second) // beyond the server's own timeout
	for c.presenceFrames.Load() == frames0 && time.Now().Before(answer) {
		if err := sleepCtx(ctx, 2*time.Millisecond); err != nil {
			return err
		}
	}
	return nil // answered, or refused or slow: subscribeAll tries again
}

// subscribeAll subscribes every connection, a few at a time, and again those whose subscription
// was refused (error frame unavailable: the server's visibility read timed out under the burst),
// as a client would; it reports how long the whole took.
func (p *presenceRun) subscribeAll(ctx context.Context, up []*benchConn) error {
	start := time.Now()
	pending := up
	for try := 1; len(pending) > 0; try++ {
		if try > 5 {
			return fmt.Errorf("%d connections got no presence frame after %d tries", len(pending), try-1)
		}
		p.b.logf("subscribing %d connections to their conversation's members (try %d)", len(pending), try)
		if err := parallel(ctx, len(pending), presenceSubscribers, func(ctx context.Context, i int) error { return p.subscribe(ctx, pending[i]) }); err != nil {
			return err
		}
		var again []*benchConn
		for _, c := range pending {
			if c.presenceFrames.Load() == 0 {
				again = append(again, c)
			}
		}
		pending = again
	}
	p.b.out.linef("subscriptions", "%d in %.1f s", len(up), time.Since(start).Seconds())
	return nil
}

// presenceSubscribers is how many subscriptions the bench sends at once.
const presenceSubscribers = 8

// flap takes a random user away, and back after --flap-offline, at --flap-percent a minute; each
// flap runs in a goroutine of flappers.
func (p *presenceRun) flap(ctx context.Context, flappers *sync.WaitGroup) {
	perSecond := p.b.cfg.presence.flapPercent / 100 * float64(p.b.cfg.conns) / 60
	if perSecond <= 0 {
		return
	}
	ticker := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		user, c := p.pickLive()
		if c == nil {
			continue
		}
		p.flaps.Add(1)
		flappers.Go(func() { p.away1(ctx, user, c) })
	}
}

// pickLive marks a random connected user away and returns its connection.
func (p *presenceRun) pickLive() (int, *benchConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 100 {
		user := rand.IntN(len(p.live))
		if c := p.live[user]; c != nil && !p.away[user] {
			p.away[user] = true
			p.live[user] = nil
			return user, c
		}
	}
	return 0, nil
}

// away1 closes a user's connection, waits, and connects the user again, subscribed as before.
func (p *presenceRun) away1(ctx context.Context, user int, c *benchConn) {
	c.close()
	if sleepCtx(ctx, p.b.cfg.presence.offline) != nil {
		p.mu.Lock()
		delete(p.away, user)
		p.mu.Unlock()
		return
	}
	next := p.b.newConn(user, false, nil)
	handshake := make(chan error, 1)
	go next.run(ctx, map[string]int64{}, func(err error) { handshake <- err })
	err := <-handshake
	if err == nil {
		err = p.subscribe(ctx, next)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.away, user)
	if err != nil {
		next.close()
		if ctx.Err() == nil { // not the run ending
			p.b.logf("flap: reconnect %s: %v", p.b.cfg.userID(user), err)
		}
		return
	}
	p.live[user] = next
}

// closeAll closes every connection the run holds.
func (p *presenceRun) closeAll() {
	p.mu.Lock()
	var conns []*benchConn
	for i, c := range p.live {
		if c != nil {
			conns = append(conns, c)
			p.live[i] = nil
		}
	}
	p.mu.Unlock()
	p.b.closeConns(conns)
}

// scrapePresence reads a server's presence figures, by series.
func scrapePresence(ctx context.Context, client *http.Client, baseURL string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s/metrics: %w", baseURL, err)
	}
	out := map[string]float64{}
	for name, f := range families {
		if !strings.HasPrefix(name, "parley_presence_") {
			continue
		}
		for _, m := range f.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += fmt.Sprintf(`{%s=%q}`, l.GetName(), l.GetValue())
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out, nil
}

func sumPrefix(m map[string]float64, prefix string) float64 {
	var total float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			total += v
		}
	}
	return total
}

// redisCommands reads the Redis server's command counts: total_commands_processed and, per
// command, cmdstat_<name> calls.
func redisCommands(ctx context.Context, url string) (map[string]float64, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	info, err := client.Info(ctx, "stats", "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("redis INFO: %w", err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		if key == "total_commands_processed" {
			out[key], _ = strconv.ParseFloat(value, 64)
		}
		if strings.HasPrefix(key, "cmdstat_") {
			// cmdstat_publish:calls=12,usec=...
			calls, _, _ := strings.Cut(strings.TrimPrefix(value, "calls="), ",")
			out[key], _ = strconv.ParseFloat(calls, 64)
		}
	}
	return out, nil
}
