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

// validEmoji reports whether s is one emoji, a single grapheme cluster that starts with a symbol
// (emoji, flags' regional indicators and the like) or is a keycap sequence (1️⃣, #️⃣), or else a
// shortcode such as :parrot:. Grapheme clusters are Unicode's (UAX #29), so a ZWJ family, a skin
// tone or a flag is one emoji, and two emoji side by side are not.
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
	if unicode.Is(unicode.So, first) {
		return true
	}
	const keycap = '\u20e3'
	return strings.ContainsRune(cluster, keycap) && strings.ContainsRune("0123456789#*", first)
}
