package main

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBenchCorpusIsTheSameOnEveryRun(t *testing.T) {
	a, b := newCorpus(), newCorpus()
	require.Equal(t, a.words, b.words)
	require.Len(t, a.words, corpusWords)
	seen := map[string]bool{}
	for _, w := range a.words {
		require.False(t, seen[w], "word %q twice", w)
		seen[w] = true
	}
	for i := range int64(200) {
		require.Equal(t, a.body(i), b.body(i), "message %d", i)
		n := len(strings.Fields(a.body(i)))
		require.GreaterOrEqual(t, n, corpusMinWords)
		require.LessOrEqual(t, n, corpusMaxWords)
		require.LessOrEqual(t, len(a.body(i)), 4000, "within the API's limit")
	}
	require.NotEqual(t, a.body(1), a.body(2))
}

func TestBenchCorpusFrequencies(t *testing.T) {
	c := newCorpus()
	var words, stop, withTop int
	for i := range int64(20000) {
		top := false
		for _, rank := range c.tokens(i) {
			words++
			if rank < c.stop {
				stop++
			}
			top = top || rank == c.stop
		}
		if top {
			withTop++
		}
	}
	// About half the words are stopwords, and the most common other word is in about 3 % of
	// messages: what the comment on the constants promises.
	require.InDelta(t, 0.53, float64(stop)/float64(words), 0.03)
	require.InDelta(t, 0.032, float64(withTop)/20000, 0.006)

	r := rand.New(rand.NewPCG(1, 2))
	z := c.zipf(r)
	for range 1000 {
		w := c.frequentWord(z)
		require.NotContains(t, corpusStopwords, w)
		rare := c.rareWord(r)
		require.GreaterOrEqual(t, slices.Index(c.words, rare), int(corpusRareFrom*corpusWords))
	}
	p, ok := c.phrase(3)
	require.True(t, ok)
	pair := strings.Fields(strings.Trim(p, `"`))
	require.Len(t, pair, 2)
	require.Contains(t, strings.ReplaceAll(c.body(3), ",", ""), pair[0]+" "+pair[1])
	for _, w := range pair {
		require.NotContains(t, corpusStopwords, w)
	}
}
