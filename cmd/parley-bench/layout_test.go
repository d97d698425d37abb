package main

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBenchLayout(t *testing.T) {
	users, members := layout(benchConfig{mode: "search", convs: 1000})
	require.Equal(t, 1001, users)
	in := 0
	for j, m := range members {
		require.Equal(t, 1+j, m[0], "conversation %d is its creator's", j)
		senders := (&benchConv{members: m}).senders()
		require.Len(t, senders, 3, "conversation %d", j)
		if slices.Contains(m, reader) {
			in++
		}
		require.Equal(t, len(m), len(slices.Compact(slices.Sorted(slices.Values(m)))), "no member twice")
	}
	require.Equal(t, searchReaderConvs, in, "the reader is in 50 conversations")

	_, members = layout(benchConfig{mode: "search", convs: 2})
	require.Equal(t, [][]int{{1, 2, reader}, {2, 1, reader}}, members, "few conversations: no member twice")

	users, members = layout(benchConfig{mode: "list", convs: 50})
	require.Equal(t, 51, users)
	for j, m := range members {
		require.Equal(t, []int{1 + j, reader}, m)
	}

	users, members = layout(benchConfig{mode: "fanout", conns: 10, convs: 3})
	require.Equal(t, 10, users)
	require.Equal(t, [][]int{{0, 3, 6, 9}, {1, 4, 7}, {2, 5, 8}}, members)
}

func TestBenchSeedPlan(t *testing.T) {
	var sum int64
	for j := range 7 {
		n := seedPlan(100, 7, j)
		require.Contains(t, []int64{14, 15}, n)
		sum += n
	}
	require.Equal(t, int64(100), sum)
	require.Equal(t, int64(1000), seedPlan(1_000_000, 1000, 999))
	require.Equal(t, int64(0), seedPlan(0, 50, 0))
}
