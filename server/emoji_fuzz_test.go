package server

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// FuzzEmoji feeds arbitrary strings to validEmoji, which guards every reaction route before the
// emoji reaches the database, and checks that whatever it accepts is what DESIGN.md says an emoji
// is: one grapheme cluster of UTF-8 text without controls or spaces, or a shortcode, in at most
// 64 bytes.
func FuzzEmoji(f *testing.F) {
	for _, tc := range validEmojiCases() {
		f.Add(tc.in)
	}
	for _, seed := range []string{
		"👍\u200d", "👍\ufe0f\ufe0f", "🏴" + strings.Repeat("\U000E0061", 15), "🇫", "🇫🇷🇫",
		"☺" + strings.Repeat("\u0301", 30), "\u20e3", "1\ufe0f", "#\u20e3\u20e3", "©\u200d👍",
		"👍\u0600", "\u0600👍", "👍\u1160", "\u1100\u1161", "👍\u3000", "👍\u2028", "👍\u00ad",
		"::", ":" + strings.Repeat("z", 32) + ":", ":a:\x00", "\x00:a:", ":A:",
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, s string) {
		if !validEmoji(s) {
			return
		}
		checkAcceptedEmoji(t, s)
	})
}

// shortcode is the shortcode syntax of DESIGN.md, written again here so that a change to the
// server's pattern cannot pass unnoticed.
var shortcode = regexp.MustCompile(`^:[a-z0-9_+-]{1,32}:$`)

// checkAcceptedEmoji checks an emoji validEmoji accepted.
func checkAcceptedEmoji(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("accepted %q, which is not UTF-8", s)
	}
	if len(s) > 64 {
		t.Fatalf("accepted %q, of %d bytes", s, len(s))
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			t.Fatalf("accepted %q, which holds %U", s, r)
		}
	}
	if shortcode.MatchString(s) {
		return
	}
	if s[0] == ':' {
		t.Fatalf("accepted %q, which starts like a shortcode and is not one", s)
	}
	if n := uniseg.GraphemeClusterCount(s); n != 1 {
		t.Fatalf("accepted %q, which is %d grapheme clusters", s, n)
	}
}
