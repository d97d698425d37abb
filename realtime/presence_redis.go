package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// presenceKeys names presence's keys: the nodes' leases (a sorted set scored by expiry, unix ms),
// each node's users, everyone's last-seen time, and the channel of announcements.
type presenceKeys struct {
	namespace, nodes, seen, channel string
}

func newPresenceKeys(namespace string) presenceKeys {
	return presenceKeys{
		namespace: namespace,
		nodes:     namespace + ":presence:nodes",
		seen:      namespace + ":presence:seen",
		channel:   namespace + ":presence",
	}
}

func (k presenceKeys) on(node string) string { return k.namespace + ":presence:on:" + node }

// announcement is what a node publishes: its users' transitions since the last, in order, or
// that it (re)joined and everyone should read its users again.
type announcement struct {
	Node    string          `json:"node"`
	Reset   bool            `json:"reset,omitempty"`
	Changes []announcedMove `json:"changes,omitempty"`
}

type announcedMove struct {
	User   string `json:"user"`
	Online bool   `json:"online"`
	At     int64  `json:"at"` // unix ms
}

func decodeAnnouncement(payload string) (announcement, error) {
	var a announcement
	if err := json.Unmarshal([]byte(payload), &a); err != nil || a.Node == "" {
		return a, fmt.Errorf("decode presence announcement %.100q: %v", payload, err)
	}
	return a, nil
}

func (s *PresenceSync) publish(ctx context.Context, pipe redis.Pipeliner, a announcement) error {
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode presence announcement: %w", err)
	}
	pipe.Publish(ctx, s.keys.channel, data)
	return nil
}

func (s *PresenceSync) lease(extra time.Duration) redis.Z {
	return redis.Z{Score: float64(s.clock.Now().Add(extra).UnixMilli()), Member: s.node}
}

// join writes this node's users again from scratch (what a previous run of the node left, or what
// changed while Redis was away, is replaced), renews its lease and tells the others to read them.
func (s *PresenceSync) join(ctx context.Context) error {
	changes := s.tracker.takeChanges()
	users := s.tracker.localUsers()
	ctx, cancel := context.WithTimeout(ctx, presenceOpTimeout)
	defer cancel()
	pipe := s.client.TxPipeline()
	pipe.Del(ctx, s.keys.on(s.node))
	for chunk := range slices.Chunk(users, 1000) {
		pipe.SAdd(ctx, s.keys.on(s.node), toAny(chunk)...)
	}
	s.writeSeen(ctx, pipe, changes)
	pipe.ZAdd(ctx, s.keys.nodes, s.lease(s.cfg.LeaseTTL))
	if err := s.publish(ctx, pipe, announcement{Node: s.node, Reset: true}); err != nil {
		return err
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.tracker.requeue(changes)
		return fmt.Errorf("write this node's %d users: %w", len(users), err)
	}
	return nil
}

// flush writes this node's transitions since the last flush, in one round trip: the set of its
// users, the last-seen times of those who left, and one announcement. It reports whether the
// node is still joined; on failure it rejoins, which writes everything again.
func (s *PresenceSync) flush(ctx context.Context) bool {
	changes := s.tracker.takeChanges()
	if len(changes) == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, presenceOpTimeout)
	defer cancel()
	var on, off []any
	a := announcement{Node: s.node, Changes: make([]announcedMove, 0, len(changes))}
	for user, ch := range changes {
		if ch.online {
			on = append(on, user)
		} else {
			off = append(off, user)
		}
		a.Changes = append(a.Changes, announcedMove{User: user, Online: ch.online, At: ch.at.UnixMilli()})
	}
	pipe := s.client.Pipeline()
	if len(on) > 0 {
		pipe.SAdd(ctx, s.keys.on(s.node), on...)
	}
	if len(off) > 0 {
		pipe.SRem(ctx, s.keys.on(s.node), off...)
	}
	s.writeSeen(ctx, pipe, changes)
	if err := s.publish(ctx, pipe, a); err != nil {
		s.failed(ctx, "flush", err)
		return true
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.tracker.requeue(changes)
		s.failed(ctx, "flush", err)
		return false
	}
	return true
}

func (s *PresenceSync) writeSeen(ctx context.Context, pipe redis.Pipeliner, changes map[string]localChange) {
	var seen []any
	for user, ch := range changes {
		if !ch.online {
			seen = append(seen, user, ch.at.UnixMilli())
		}
	}
	if len(seen) > 0 {
		pipe.HSet(ctx, s.keys.seen, seen...)
	}
}

// renew extends this node's lease: one command whatever the node holds. A lease that was gone
// (another node took this one for dead, while Redis was away say) means the node must rejoin.
func (s *PresenceSync) renew(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, presenceOpTimeout)
	defer cancel()
	added, err := s.client.ZAdd(ctx, s.keys.nodes, s.lease(s.cfg.LeaseTTL)).Result()
	if err != nil {
		s.failed(ctx, "renew", err)
		return false
	}
	if added > 0 {
		s.logger.Warn("presence: this node's lease had lapsed; writing its users again")
		return false
	}
	return true
}

// checkLapsed takes the users of every node whose lease lapsed off it, here at once, and removes
// what that node left in Redis (any node may: the removal checks the lease again, atomically).
// The users' last-seen time is the lease's last renewal, its expiry less LeaseTTL: the last moment
// the node was known alive.
func (s *PresenceSync) checkLapsed(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, presenceOpTimeout)
	defer cancel()
	now := s.clock.Now().UnixMilli()
	lapsed, err := s.client.ZRangeByScoreWithScores(ctx, s.keys.nodes, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now, 10)}).Result()
	if err != nil {
		s.failed(ctx, "check_leases", err)
		return true // the lease's own renewal says whether this node must rejoin
	}
	joined := true
	for _, z := range lapsed {
		node, _ := z.Member.(string)
		lastSeen := time.UnixMilli(int64(z.Score)).Add(-s.cfg.LeaseTTL)
		if node == s.node {
			joined = false // this node failed to renew in time: the others take it for dead
			continue
		}
		s.tracker.nodeGone(node, lastSeen)
		keys := []string{s.keys.nodes, s.keys.on(node), s.keys.seen}
		if err := s.reap.Run(ctx, s.client, keys, node, now, lastSeen.UnixMilli()).Err(); err != nil {
			s.failed(ctx, "reap", err)
			continue
		}
		s.logger.Info("presence: a node's lease lapsed; its users are offline unless online elsewhere", "node", node)
	}
	return joined
}

// reapSource removes a lapsed node: its lease, its set of users, and records their last-seen time
// (never moving one back). It does nothing if the lease was renewed or removed meanwhile, so any
// number of nodes may run it at once.
const reapSource = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return 0 end
local users = redis.call('SMEMBERS', KEYS[2])
for _, u in ipairs(users) do
  local cur = redis.call('HGET', KEYS[3], u)
  if not cur or tonumber(cur) < tonumber(ARGV[3]) then redis.call('HSET', KEYS[3], u, ARGV[3]) end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return #users
`

// resync reads the users of every live node but this one and makes them the tracker's view.
func (s *PresenceSync) resync(ctx context.Context) {
	s.tracker.beginResync()
	nodes, err := s.readNodes(ctx)
	if err != nil {
		s.failed(ctx, "resync", err)
	}
	s.tracker.endResync(nodes)
}

func (s *PresenceSync) readNodes(ctx context.Context) (map[string][]string, error) {
	ctx, cancel := context.WithTimeout(ctx, presenceOpTimeout)
	defer cancel()
	now := strconv.FormatInt(s.clock.Now().UnixMilli(), 10)
	live, err := s.client.ZRangeByScore(ctx, s.keys.nodes, &redis.ZRangeBy{Min: "(" + now, Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("live nodes: %w", err)
	}
	nodes := make(map[string][]string, len(live))
	for _, node := range live {
		if node == s.node {
			continue
		}
		// SSCAN, not SMEMBERS: a node's set may be large, and Redis serves others between pages.
		var users []string
		iter := s.client.SScan(ctx, s.keys.on(node), 0, "", 1000).Iterator()
		for iter.Next(ctx) {
			users = append(users, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return nil, fmt.Errorf("users of node %s: %w", node, err)
		}
		nodes[node] = users
	}
	return nodes, nil
}

// leave is the node stopping: what is queued is written, and its lease set to lapse Grace from
// now (if it is still there), so the other nodes take its users offline then, as a clean close
// would, unless they reconnected elsewhere meanwhile.
func (s *PresenceSync) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), presenceOpTimeout)
	defer cancel()
	s.flush(ctx)
	if err := s.client.ZAddXX(ctx, s.keys.nodes, s.lease(s.cfg.Grace)).Err(); err != nil {
		s.failed(ctx, "leave", err)
	}
}

// lastSeen reads when users were last seen, as the nodes wrote it.
func (s *PresenceSync) lastSeen(ctx context.Context, users []string) (map[string]time.Time, error) {
	vals, err := s.client.HMGet(ctx, s.keys.seen, users...).Result()
	if err != nil {
		return nil, fmt.Errorf("last seen: %w", err)
	}
	out := make(map[string]time.Time, len(users))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		if ms, err := strconv.ParseInt(str, 10, 64); err == nil {
			out[users[i]] = time.UnixMilli(ms)
		}
	}
	return out, nil
}

func toAny(users []string) []any {
	out := make([]any, len(users))
	for i, u := range users {
		out[i] = u
	}
	return out
}
