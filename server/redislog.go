package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// RedisLog carries go-redis's own log lines into a structured logger. go-redis keeps one logger
// per process, so the program sets it once, at start: redis.SetLogger(server.RedisLog{Logger: l}).
type RedisLog struct{ Logger *slog.Logger }

// Printf is go-redis's logging interface. A pool that cannot dial is at debug level: while Redis
// is down, Parley says so itself, once a try, and go-redis would add a line per connection
// attempt. Anything else go-redis reports is a warning.
func (l RedisLog) Printf(ctx context.Context, format string, v ...any) {
	text := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	level := slog.LevelWarn
	if strings.Contains(text, "failed to dial") {
		level = slog.LevelDebug
	}
	l.Logger.Log(ctx, level, "redis client", "detail", text)
}
