package server

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// maxEmojiBytes bounds an emoji's encoding: the longest emoji sequences (a kiss with two skin
// tones, a subdivision flag) take under 40 bytes.
const maxEmojiBytes = 64

var shortcodePattern = regexp.MustCompile(`^:[a-z0-9_+-]{1,32}:$`)

// validEmoji reports whether s is one emoji or a shortcode such as :parrot:. One emoji is a single
// grapheme cluster (UAX #29: a ZWJ family, a skin tone or a flag is one, two emoji side by side are
// not) that starts with a symbol, or with anything but an ASCII letter when an emoji presentation
// selector or a keycap follows it (ℹ️, 〰️, 1️⃣). Emoji newer than Go's Unicode tables are symbols
// of the emoji blocks, which are taken whole.
func validEmoji(s string) bool {
	if s == "" || len(s) > maxEmojiBytes || !utf8.ValidString(s) {
		return false
	}
	if s[0] == ':' {
		return shortcodePattern.MatchString(s)
	}
	cluster, rest, _, _ := uniseg.FirstGraphemeClusterInString(s, -1)
	if rest != "" {
		return false
	}
	first, _ := utf8.DecodeRuneInString(cluster)
	if !wellFormedSequence(cluster, first) {
		return false
	}
	switch {
	case unicode.IsControl(first) || unicode.IsSpace(first) || unicode.In(first, unicode.M, unicode.Cf) || first == utf8.RuneError:
		return false
	case first >= emojiBlocksStart && first <= emojiBlocksEnd:
		return true
	case first >= utf8.RuneSelf && unicode.In(first, unicode.So, unicode.Sm):
		return true
	}
	const presentationSelector, keycap = '\ufe0f', '\u20e3'
	asciiLetter := first < utf8.RuneSelf && unicode.IsLetter(first)
	return !asciiLetter && (strings.ContainsRune(cluster, presentationSelector) || strings.ContainsRune(cluster, keycap))
}

// wellFormedSequence refuses what would ride along inside an emoji and make a look-alike of it
// that counts apart: a joiner with nothing after it (👍 + ZWJ), and tag characters anywhere but in
// a subdivision flag (🏴 + up to six tag letters or digits + cancel tag).
func wellFormedSequence(cluster string, first rune) bool {
	const zwj, blackFlag, cancelTag = '\u200d', '\U0001f3f4', '\U000e007f'
	last, _ := utf8.DecodeLastRuneInString(cluster)
	if last == zwj {
		return false
	}
	tags := 0
	for _, r := range cluster {
		if r >= 0xe0000 && r <= 0xe007f {
			tags++
		}
	}
	if tags == 0 {
		return true
	}
	return first == blackFlag && last == cancelTag && tags >= 3 && tags <= 7
}

// The Unicode blocks from Mahjong Tiles to Symbols and Pictographs Extended-A, where new emoji are
// assigned year after year.
const emojiBlocksStart, emojiBlocksEnd = 0x1f000, 0x1faff
