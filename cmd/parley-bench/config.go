package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/devtoken"
)

// maxDuration bounds a run: a load tool pointed at the wrong server should not hold it for
// hours. A soak is meant to be long, but is bounded too.
const (
	maxDuration     = 10 * time.Minute
	soakMaxDuration = 2 * time.Hour
)

// benchConfig is what the bench was asked to do, with the mode's defaults filled in.
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
	seed             int64 // search: messages to seed
	unread           int   // list: unread messages in each conversation
	readers          int   // search, list: concurrent requests
	markRead         bool  // list: the reader reads everything before the window
	// webhooks: the receiver's address and secret, and the receiver outage.
	webhookListen, webhookSecret string
	outage                       time.Duration
	outageRate                   float64
	presence                     presenceConfig
	// durationSet and warmupSet say the flags were given, so that soak's longer defaults apply
	// only when they were not.
	durationSet, warmupSet bool
}

func parseURLs(list string) ([]string, error) {
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
	case "idle", "fanout", "sends", "resume", "soak", "search", "list", "reactions", "webhooks", "presence":
	default:
		return fmt.Errorf("--mode %q: want idle, fanout, sends, resume, soak, search, list, reactions, webhooks or presence", c.mode)
	}
	for _, step := range []func() error{c.fillTimes, c.fillConns, c.fillRate, c.checkRest, c.fillRunID} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// fillTimes applies soak's longer defaults and bounds the run's durations.
func (c *benchConfig) fillTimes() error {
	limit := maxDuration
	if c.mode == "soak" {
		limit = soakMaxDuration
		if !c.durationSet {
			c.duration = 2 * time.Minute
		}
		if !c.warmupSet {
			c.warmup = 15 * time.Second
		}
	}
	if c.duration <= 0 || c.duration > limit {
		return fmt.Errorf("--duration %s: want more than 0 and at most %s", c.duration, limit)
	}
	if c.mode == "soak" && (c.interval <= 0 || c.interval > c.duration) {
		return fmt.Errorf("--interval %s: want more than 0 and at most --duration (%s)", c.interval, c.duration)
	}
	if c.warmup < 0 || c.warmup > maxDuration {
		return fmt.Errorf("--warmup %s: want 0 to %s", c.warmup, maxDuration)
	}
	if c.drain < 0 || c.drain > maxDuration {
		return fmt.Errorf("--drain %s: want 0 to %s", c.drain, maxDuration)
	}
	return nil
}

// fillConns picks the mode's numbers of connections and conversations.
func (c *benchConfig) fillConns() error {
	if c.mode == "search" || c.mode == "list" {
		return c.fillReaderConvs()
	}
	if c.conns < 0 {
		switch c.mode {
		case "sends", "webhooks":
			c.conns = 0
		case "resume":
			c.conns = 100
		case "soak":
			c.conns = 200
		case "reactions":
			c.conns = 500
		case "presence":
			c.conns = 10_000
		default:
			c.conns = 1000
		}
	}
	if c.conns == 0 && c.mode != "sends" && c.mode != "webhooks" {
		return fmt.Errorf("--conns: mode %s needs at least one connection", c.mode)
	}
	if c.mode == "reactions" {
		if c.convs > 1 {
			return errors.New("--convs: reactions uses one conversation of --conns members")
		}
		c.convs = 1
	}
	if c.convs <= 0 {
		switch {
		case (c.mode == "sends" || c.mode == "webhooks") && c.conns == 0:
			c.convs = 100
		case c.mode == "soak":
			c.convs = max(1, c.conns/10)
		case c.mode == "presence":
			c.convs = max(1, c.conns/100) // each connection watches its conversation's 100 members
		default:
			c.convs = max(1, c.conns/50)
		}
	}
	if c.conns > 0 && c.convs > c.conns {
		return fmt.Errorf("--convs %d: at most --conns (%d), so that every conversation has a connected member", c.convs, c.conns)
	}
	return nil
}

// fillReaderConvs picks the conversations of search and list, which connect no WebSockets: 1,000
// for search (the reader in 50 of them) and 50 for list (the reader in all).
func (c *benchConfig) fillReaderConvs() error {
	if c.conns > 0 {
		return fmt.Errorf("--conns: mode %s makes no WebSocket connections", c.mode)
	}
	c.conns = 0
	if c.convs <= 0 {
		c.convs = map[string]int{"search": 1000, "list": 50}[c.mode]
	}
	return nil
}

// fillRate picks the mode's send rate and number of senders.
func (c *benchConfig) fillRate() error {
	if c.rate < 0 {
		c.rate = 0
		switch c.mode {
		case "fanout":
			c.rate = 200
		case "soak":
			c.rate = 50
		case "reactions":
			c.rate = float64(c.conns) // every member reacts within one second
		}
	}
	if (c.mode == "fanout" || c.mode == "soak" || c.mode == "reactions") && c.rate == 0 {
		return fmt.Errorf("--rate: %s needs a send rate (messages per second)", c.mode)
	}
	if c.senders <= 0 {
		switch c.mode {
		case "sends", "search", "list", "reactions", "webhooks":
			c.senders = 64
		case "resume":
			c.senders = 16
		default:
			c.senders = min(max(int(c.rate/20), 8), 128)
		}
	}
	return nil
}

func (c *benchConfig) checkRest() error {
	if c.missed < 1 && c.mode == "resume" {
		return errors.New("--missed: at least 1")
	}
	if c.seed < 0 || c.unread < 0 {
		return errors.New("--seed, --unread: at least 0")
	}
	if c.readers < 1 && (c.mode == "search" || c.mode == "list") {
		return errors.New("--readers: at least 1")
	}
	if c.mode == "webhooks" && (c.outage < 0 || c.outage > maxDuration || c.outageRate <= 0) {
		return fmt.Errorf("--outage %s, --outage-rate %.0f: want 0 to %s, and a positive rate", c.outage, c.outageRate, maxDuration)
	}
	if c.dialConcurrency < 1 {
		return errors.New("--dial-concurrency: at least 1")
	}
	if c.bodyBytes > 4000 {
		return errors.New("--body-bytes: at most 4000 (the API's limit)")
	}
	return nil
}

// fillRunID draws a run id when none was given and checks that every user id it makes is one
// the API accepts.
func (c *benchConfig) fillRunID() error {
	if c.runID == "" {
		raw := make([]byte, 3)
		if _, err := rand.Read(raw); err != nil {
			return fmt.Errorf("draw a run id: %w", err)
		}
		c.runID = "b" + hex.EncodeToString(raw)
	}
	// user ids are bench-<run id>-u<k>; keep them within the API's 128 characters
	if err := devtoken.CheckUserID(c.userID(c.conns + c.convs + 1)); err != nil || len(c.runID) > 64 {
		return fmt.Errorf("--run-id %q: want up to 64 of [A-Za-z0-9._:@-]", c.runID)
	}
	return nil
}

func (c *benchConfig) userID(k int) string { return fmt.Sprintf("bench-%s-u%d", c.runID, k) }
