package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// RedisLog carries go-redis's own log lines (a pool that cannot dial, say) into a structured
// logger, at warn level. go-redis keeps one logger per process, so the program sets it once, at
// start: redis.SetLogger(server.RedisLog{Logger: logger}).
type RedisLog struct{ Logger *slog.Logger }

// Printf is go-redis's logging interface.
func (l RedisLog) Printf(ctx context.Context, format string, v ...any) {
	l.Logger.WarnContext(ctx, "redis client", "detail", strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}
