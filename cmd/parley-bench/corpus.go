package main

import (
	"math/rand/v2"
	"strings"
)

// The seeded messages are chat-like English: 5 to 25 words drawn from a Zipf distribution over a
// fixed vocabulary, most frequent first. The top ranks are English stopwords (which PostgreSQL's
// 'english' configuration leaves out of the index, as real chat's most common words are), then
// common chat words, then made-up words out to the rare tail. With s = 1.1 and v = 3 the stopwords
// are about half of all words and the most common other word is in about 3 % of messages.
const (
	corpusSeed     = 0x9a41e7
	corpusWords    = 4000
	corpusZipfS    = 1.1
	corpusZipfV    = 3
	corpusMinWords = 5
	corpusMaxWords = 25
	// corpusRareFrom is where the rare tail starts, as a fraction of the vocabulary.
	corpusRareFrom = 0.9
)

// corpusStopwords are in PostgreSQL's English stopword list; ranked as chat uses them.
var corpusStopwords = strings.Fields(`the i you to a and it is that of in for we on this have be so
but not with my are just do was at can your what all if about they will me there now how up out
when from our no too then more here some been had an any by which did only very should`)

// corpusCommon are ordinary chat words, after the stopwords in rank.
var corpusCommon = strings.Fields(`know like get think time good really going want need see yeah
okay thanks work today tomorrow meeting call look make let right sure back people new great day
take week way thing maybe next first last check send team release deploy build test fix bug
review merge branch code server database query index cache latency error log config update change
plan launch design doc draft slides demo customer client user feature ticket sprint standup lunch
coffee dinner weekend morning afternoon tonight home office remote train flight trip hotel book
movie music game play watch read write email message phone laptop screen link file folder photo
picture video chat channel thread reply question answer idea problem solution reason budget cost
price invoice contract deadline schedule calendar slot invite agenda notes summary report metrics
dashboard chart number count total average growth traffic outage incident alert pager oncall
rollback hotfix patch version upgrade migration schema table column backup restore storage disk
memory cpu network cluster node region zone container image pipeline job worker queue stream
webhook token password login account profile settings permission access role admin owner manager
lead intern hire interview offer salary vacation holiday birthday party gift cake pizza sandwich
salad soup tea water weather rain snow sun cold hot late early soon quick slow fast busy free happy
sorry tired excited awesome nice cool fine weird funny crazy perfect exactly definitely probably
actually basically anyway almost already always never sometimes everyone someone anything nothing
something`)

// corpus is the vocabulary the bench writes and searches with.
type corpus struct {
	words []string // by rank, most frequent first
	stop  int      // words[:stop] are stopwords
}

func newCorpus() *corpus {
	c := &corpus{stop: len(corpusStopwords)}
	c.words = append(c.words, corpusStopwords...)
	c.words = append(c.words, corpusCommon...)
	seen := make(map[string]bool, corpusWords)
	for _, w := range c.words {
		seen[w] = true
	}
	// Made-up words of two or three syllables fill the rest, drawn from a fixed seed.
	const onsets, vowels, codas = "bdfgklmnprstvz", "aiou", "nrlkm"
	r := rand.New(rand.NewPCG(corpusSeed, 1))
	for len(c.words) < corpusWords {
		var w strings.Builder
		for range 2 + r.IntN(2) {
			w.WriteByte(onsets[r.IntN(len(onsets))])
			w.WriteByte(vowels[r.IntN(len(vowels))])
		}
		if r.IntN(3) == 0 {
			w.WriteByte(codas[r.IntN(len(codas))])
		}
		if word := w.String(); !seen[word] {
			seen[word] = true
			c.words = append(c.words, word)
		}
	}
	return c
}

// zipf draws ranks of c.words by their frequency in the corpus.
func (c *corpus) zipf(r *rand.Rand) *rand.Zipf {
	return rand.NewZipf(r, corpusZipfS, corpusZipfV, uint64(len(c.words)-1))
}

// tokens are the ranks of the words of message i: the same for the same i, on every run.
func (c *corpus) tokens(i int64) []int {
	r := rand.New(rand.NewPCG(corpusSeed, uint64(i)))
	z := c.zipf(r)
	out := make([]int, corpusMinWords+r.IntN(corpusMaxWords-corpusMinWords+1))
	for k := range out {
		out[k] = int(z.Uint64())
	}
	return out
}

// body is the text of message i: its words as a sentence, now and then with a comma.
func (c *corpus) body(i int64) string {
	tokens := c.tokens(i)
	r := rand.New(rand.NewPCG(corpusSeed, ^uint64(i)))
	var b strings.Builder
	for k, rank := range tokens {
		w := c.words[rank]
		if k == 0 {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
			continue
		}
		if r.IntN(12) == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(w)
	}
	b.WriteString([]string{".", ".", "?", "!", ""}[r.IntN(5)])
	return b.String()
}

// frequentWord draws a word that is not a stopword, by its frequency in the corpus.
func (c *corpus) frequentWord(z *rand.Zipf) string {
	for {
		if rank := int(z.Uint64()); rank >= c.stop {
			return c.words[rank]
		}
	}
}

// rareWord draws a word of the rare tail, uniformly.
func (c *corpus) rareWord(r *rand.Rand) string {
	from := int(corpusRareFrom * float64(len(c.words)))
	return c.words[from+r.IntN(len(c.words)-from)]
}

// phrase is two adjacent words of message i, neither a stopword, as a web-search phrase; false
// when the message has no such pair.
func (c *corpus) phrase(i int64) (string, bool) {
	tokens := c.tokens(i)
	for k := 1; k < len(tokens); k++ {
		if tokens[k-1] >= c.stop && tokens[k] >= c.stop {
			return `"` + c.words[tokens[k-1]] + " " + c.words[tokens[k]] + `"`, true
		}
	}
	return "", false
}
