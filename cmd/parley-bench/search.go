package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/gen/api"
)

// searchPageSize is the page the searches ask for.
const searchPageSize = 20

// searchKinds are the kinds of query the readers make, with their share of the searches in
// percent: one or two words drawn by their frequency in the corpus (stopwords left out, as
// people do not search for them), a word of the rare tail, and a phrase taken from a message of
// the reader's.
var searchKinds = []struct {
	name    string
	percent int
}{{"1 word", 55}, {"2 words", 25}, {"rare word", 15}, {"phrase", 5}}

// searchKindFigures are one kind's figures over the window.
type searchKindFigures struct {
	latency                *histogram
	hits, empty, full, bad atomic.Int64
}

// searchRun is one search measurement.
type searchRun struct {
	b       *bench
	mine    map[string]bool // the reader's conversations, by id
	phrased []*benchConv    // the reader's conversations that hold messages
	kinds   []searchKindFigures
	all     *histogram
	foreign atomic.Int64 // hits in conversations that are not the reader's
	errs    errorTally
}

func (b *bench) runSearch(ctx context.Context) error {
	b.corpus = newCorpus()
	if err := b.prepareSeeded(ctx); err != nil {
		return err
	}
	if err := b.seedMessages(ctx, b.cfg.seed); err != nil {
		return err
	}
	s := &searchRun{b: b, mine: map[string]bool{}, all: b.latency}
	for _, conv := range b.convs {
		if slices.Contains(conv.members, reader) {
			s.mine[conv.idStr] = true
			if conv.held > 0 {
				s.phrased = append(s.phrased, conv)
			}
		}
	}
	for range searchKinds {
		s.kinds = append(s.kinds, searchKindFigures{latency: newHistogram()})
	}
	b.logf("searching as the reader, %d at a time: %s warmup, then %s measured", b.cfg.readers, b.cfg.warmup, b.cfg.duration)
	m, err := b.measureReads(ctx, s.reader)
	if err != nil {
		return err
	}
	return s.report(m)
}

// reader is one reader's loop body: draw a query, search, account for the answer.
func (s *searchRun) reader(r *rand.Rand) func(ctx context.Context, inWindow bool) {
	z := s.b.corpus.zipf(r)
	return func(ctx context.Context, inWindow bool) {
		kind, q := s.query(r, z)
		s.search(ctx, kind, q, inWindow)
	}
}

// query draws the next query: its kind by searchKinds' shares, then its words.
func (s *searchRun) query(r *rand.Rand, z *rand.Zipf) (int, string) {
	c := s.b.corpus
	p := r.IntN(100)
	kind := 0
	for ; kind < len(searchKinds)-1 && p >= searchKinds[kind].percent; kind++ {
		p -= searchKinds[kind].percent
	}
	switch kind {
	case 1:
		return kind, c.frequentWord(z) + " " + c.frequentWord(z)
	case 2:
		return kind, c.rareWord(r)
	case 3:
		// two adjacent words of a message the reader can see
		for range 10 {
			if len(s.phrased) == 0 {
				break
			}
			conv := s.phrased[r.IntN(len(s.phrased))]
			turn := r.Int64N(conv.held)
			if q, ok := c.phrase(int64(conv.index) + turn*int64(len(s.b.convs))); ok {
				return kind, q
			}
		}
	}
	return 0, c.frequentWord(z)
}

func (s *searchRun) search(ctx context.Context, kind int, q string, inWindow bool) {
	start := time.Now()
	resp, err := s.b.api[0].SearchMessagesWithResponse(ctx, &api.SearchMessagesParams{Q: q, Limit: ptr(searchPageSize)}, s.b.auth(reader))
	took := time.Since(start)
	if !inWindow || ctx.Err() != nil {
		return
	}
	switch {
	case err != nil:
		s.errs.add(s.b, "transport error", err.Error())
		return
	case resp.JSON200 == nil:
		s.errs.add(s.b, fmt.Sprintf("HTTP %d", resp.StatusCode()), fmt.Sprintf("q=%s: %s", q, clip(resp.Body)))
		return
	}
	page := resp.JSON200
	f := &s.kinds[kind]
	f.latency.record(took)
	s.all.record(took)
	f.hits.Add(int64(len(page.Items)))
	if len(page.Items) == 0 {
		f.empty.Add(1)
	}
	if page.NextCursor != nil {
		f.full.Add(1)
	}
	for _, hit := range page.Items {
		if !s.mine[hit.Message.ConversationId.String()] {
			s.foreign.Add(1)
		}
		if hit.Snippet == "" {
			f.bad.Add(1)
		}
	}
}

func (s *searchRun) report(m sendingWindow) error {
	b, r := s.b, s.b.out
	window := m.window.Seconds()
	n := s.all.count()
	c := b.corpus
	r.linef("corpus", "%d words (%d of them English stopwords), Zipf s=%g v=%d, %d–%d words a message", len(c.words), c.stop, corpusZipfS, corpusZipfV, corpusMinWords, corpusMaxWords)
	r.linef("readers", "%d at a time, %d hits a page asked for", b.cfg.readers, searchPageSize)
	r.linef("window", "%.1f s after %s warmup", window, b.cfg.warmup)
	r.linef("searches in window", "%d (%.0f/s), errors %d", n, float64(n)/window, s.errs.total.Load())
	latencyLines(r, "search latency", s.all)
	var hits, empty, full, bad int64
	for i, k := range searchKinds {
		f := &s.kinds[i]
		cnt := f.latency.count()
		hits, empty, full, bad = hits+f.hits.Load(), empty+f.empty.Load(), full+f.full.Load(), bad+f.bad.Load()
		if cnt == 0 {
			r.line("search latency, "+k.name, "no samples")
			continue
		}
		r.linef("search latency, "+k.name, "p50 %s, p95 %s, p99 %s (%d searches, %.1f hits a page, %.0f%% empty)",
			ms(f.latency.quantile(.5)), ms(f.latency.quantile(.95)), ms(f.latency.quantile(.99)),
			cnt, float64(f.hits.Load())/float64(cnt), 100*float64(f.empty.Load())/float64(cnt))
	}
	if n > 0 {
		r.linef("hits a page", "%.1f mean; %.0f%% of pages empty, %.0f%% full (with a next_cursor)", float64(hits)/float64(n), 100*float64(empty)/float64(n), 100*float64(full)/float64(n))
	}
	r.linef("hits outside the reader's conversations", "%d", s.foreign.Load())
	r.linef("hits without a snippet", "%d", bad)
	b.serverCPUPer(m, "search", n)
	r.line("search index size", "not visible through the API; in PostgreSQL: SELECT pg_size_pretty(pg_relation_size('messages_search_idx'))")
	s.errs.lines(r, "search errors")
	p95, p99 := s.all.quantile(.95), s.all.quantile(.99)
	verdict := "met"
	if n == 0 || p95 > 50*time.Millisecond || p99 > 100*time.Millisecond {
		verdict = fmt.Sprintf("missed (p95 %s, p99 %s)", ms(p95), ms(p99))
	}
	r.line("target (p95 ≤ 50 ms, p99 ≤ 100 ms)", verdict)
	switch {
	case s.foreign.Load() > 0:
		return fmt.Errorf("search check failed: %d hits outside the reader's conversations", s.foreign.Load())
	case n == 0:
		return errors.New("search check failed: no search answered")
	}
	return nil
}
