package setting

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type pool struct {
	MaxConns int32
	Idle     time.Duration
}

type server struct{ Pool pool }

func TestCheckNamesTheSettingAndItsRange(t *testing.T) {
	t.Parallel()
	idle := Duration("Pool.Idle", func(p *pool) *time.Duration { return &p.Idle }, time.Second, 10*time.Minute)
	require.NoError(t, idle.Check(&pool{Idle: time.Second}))
	require.NoError(t, idle.Check(&pool{Idle: 10 * time.Minute}))
	require.EqualError(t, idle.Check(&pool{}), "Pool.Idle must be between 1s and 10m0s (got 0s)")
	require.Equal(t, "1s to 10m0s", idle.Range())

	v, err := idle.Parse("90s")
	require.NoError(t, err)
	require.Equal(t, "1m30s", idle.Format(v))
	_, err = idle.Parse("90")
	require.Error(t, err, "a duration needs its unit")
}

// A value too large for an int32 field stays too large: it does not wrap into the range.
func TestSetSaturatesInsteadOfWrapping(t *testing.T) {
	t.Parallel()
	conns := Int("Pool.MaxConns", func(p *pool) *int32 { return &p.MaxConns }, 1, 100)
	var p pool
	conns.Set(&p, 1<<32+2) // 2 once wrapped
	require.EqualError(t, conns.Check(&p), "Pool.MaxConns must be between 1 and 100 (got 2147483647)")
	conns.Set(&p, -(1<<32)+2)
	require.EqualError(t, conns.Check(&p), "Pool.MaxConns must be between 1 and 100 (got -2147483648)")
	conns.Set(&p, 100)
	require.NoError(t, conns.Check(&p))
}

func TestWithinReadsAndWritesThePart(t *testing.T) {
	t.Parallel()
	conns := Within(Int("Pool.MaxConns", func(p *pool) *int32 { return &p.MaxConns }, 1, 100),
		func(s *server) *pool { return &s.Pool })
	var s server
	conns.Set(&s, 7)
	require.Equal(t, int32(7), s.Pool.MaxConns)
	require.Equal(t, int64(7), conns.Get(&s))
	require.Equal(t, "Pool.MaxConns", conns.Name)
}

func TestCheckBurstOnlyUnderALimit(t *testing.T) {
	t.Parallel()
	type limit struct{ PerMinute, Burst int }
	rate := Int("PerMinute", func(l *limit) *int { return &l.PerMinute }, 0, 1000)
	burst := Int("Burst", func(l *limit) *int { return &l.Burst }, 0, 1000)
	require.NoError(t, CheckBurst(&limit{}, rate, burst), "no limit: the burst does not matter")
	require.NoError(t, CheckBurst(&limit{PerMinute: 60, Burst: 1}, rate, burst))
	require.EqualError(t, CheckBurst(&limit{PerMinute: 60}, rate, burst),
		"Burst must be at least 1 while its rate is above 0 (got 0)")
}

func TestCheckAllStopsAtTheFirst(t *testing.T) {
	t.Parallel()
	settings := []Setting[pool]{
		Int("Pool.MaxConns", func(p *pool) *int32 { return &p.MaxConns }, 1, 100),
		Duration("Pool.Idle", func(p *pool) *time.Duration { return &p.Idle }, time.Second, time.Hour),
	}
	err := CheckAll(&pool{}, settings)
	var refused *Error
	require.ErrorAs(t, err, &refused)
	require.Equal(t, "Pool.MaxConns", refused.Name)
	require.NoError(t, CheckAll(&pool{MaxConns: 1, Idle: time.Second}, settings))
}
