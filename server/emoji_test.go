package server

import (
	"strings"
	"testing"

	"github.com/rivo/uniseg"
	"github.com/stretchr/testify/require"
)

// emojiCase is an input of validEmoji and whether it is one emoji (or a shortcode).
type emojiCase struct {
	name  string
	in    string
	valid bool
}

// validEmojiCases are emoji of every shape Unicode has (single code points, presentation
// selectors, skin tones, ZWJ sequences, flags, subdivision flags, keycaps), shortcodes, and what
// is neither: text, several emoji, controls, invalid UTF-8, lone joiners and selectors, and
// emoji too long to store. FuzzEmoji starts from them too.
func validEmojiCases() []emojiCase {
	return []emojiCase{
		// One emoji.
		{"ThumbsUp", "👍", true},
		{"ThumbsUpSkinTone", "👍🏽", true},
		{"ThumbsUpDarkSkinTone", "👍🏿", true},
		{"FamilyZWJ", "👨‍👩‍👧", true},
		{"FamilyOfFourZWJ", "👨‍👩‍👧‍👦", true},
		{"TechnologistSkinToneZWJ", "👩🏽‍💻", true},
		{"PersonRedHairSkinTone", "🧑🏿‍🦰", true},
		{"KissTwoSkinTones", "🧑🏻‍❤️‍💋‍🧑🏿", true},
		{"RainbowFlagZWJ", "🏳️‍🌈", true},
		{"TransgenderFlagZWJ", "🏳️‍⚧️", true},
		{"EyeInSpeechBubble", "👁️‍🗨️", true},
		{"HeartOnFire", "❤️‍🔥", true},
		{"FlagFrance", "🇫🇷", true},
		{"FlagUnitedNations", "🇺🇳", true},
		{"FlagScotland", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", true},
		{"FlagWales", "🏴󠁧󠁢󠁷󠁬󠁳󠁿", true},
		{"KeycapOne", "1️⃣", true},
		{"KeycapHash", "#️⃣", true},
		{"KeycapStar", "*️⃣", true},
		{"KeycapZeroNoSelector", "0⃣", true},
		{"Copyright", "©", true},
		{"CopyrightEmojiPresentation", "©️", true},
		{"RegisteredEmojiPresentation", "®️", true},
		{"TradeMark", "™️", true},
		{"HeartText", "❤", true},
		{"HeartEmoji", "❤️", true},
		{"Smiley", "☺️", true},
		{"Star", "⭐", true},
		{"Mahjong", "🀄", true},
		{"BloodTypeA", "🅰️", true},
		{"Watch", "⌚", true},
		{"CheckMark", "✔️", true},
		{"FemaleSign", "♀️", true},
		// Emoji of Unicode's emoji list (emoji-test.txt, fully qualified) whose first code point
		// is not a symbol (So) but punctuation, a math symbol or a letter.
		{"DoubleExclamation", "‼️", true},
		{"ExclamationQuestion", "⁉️", true},
		{"Information", "ℹ️", true},
		{"LeftRightArrow", "↔️", true},
		{"ArrowRightCurvingUp", "⤴️", true},
		{"WavyDash", "〰️", true},
		{"PartAlternationMark", "〽️", true},
		{"WhiteMediumSquare", "◻️", true},
		{"WhiteMediumSmallSquare", "◽", true},
		// Emoji 16.0 (2024), on phones since 2025: newer than the Unicode tables of Go's unicode
		// package (15.0).
		{"FaceWithBagsUnderEyes", "🫩", true},
		{"Fingerprint", "🫆", true},
		{"LeaflessTree", "🪾", true},
		{"Harp", "🪉", true},
		{"Splatter", "🫟", true},

		// Shortcodes.
		{"Shortcode", ":parrot:", true},
		{"ShortcodePlusOne", ":+1:", true},
		{"ShortcodeMinusOne", ":-1:", true},
		{"ShortcodeUnderscore", ":thumbs_up:", true},
		{"ShortcodeDigits", ":100:", true},
		{"ShortcodeOneChar", ":a:", true},
		{"Shortcode32Chars", ":" + strings.Repeat("a", 32) + ":", true},

		// Look-alikes of one emoji that would count apart from it.
		{"TrailingJoiner", "👍\u200d", false},
		{"TagsOnAThumb", "👍\U000e0068\U000e0069\U000e007f", false},
		{"FlagWithHiddenText", "🏴" + strings.Repeat("\U000e0061", 12) + "\U000e007f", false},
		{"FlagTagsWithoutCancel", "🏴\U000e0067\U000e0062\U000e0073", false},

		// Not shortcodes.
		{"ShortcodeUppercase", ":Parrot:", false},
		{"ShortcodeEmpty", "::", false},
		{"ShortcodeColon", ":", false},
		{"Shortcode33Chars", ":" + strings.Repeat("a", 33) + ":", false},
		{"ShortcodeUnclosed", ":parrot", false},
		{"ShortcodeUnopened", "parrot:", false},
		{"ShortcodeSpace", ":par rot:", false},
		{"ShortcodeDoubleClosed", ":parrot::", false},
		{"ShortcodeDoubleOpened", "::parrot:", false},
		{"ShortcodeTwo", ":a:b:", false},
		{"ShortcodeAccent", ":pärrot:", false},
		{"ShortcodeEmoji", ":😀:", false},
		{"ShortcodeNewline", ":parrot:\n", false},
		{"ShortcodeNUL", ":parrot:\x00", false},
		{"ShortcodeDot", ":par.rot:", false},

		// Text, and text with emoji.
		{"Empty", "", false},
		{"Letter", "a", false},
		{"TwoLetters", "ab", false},
		{"Digit", "1", false},
		{"Hash", "#", false},
		{"DigitKeycapTwoDigits", "10⃣", false},
		{"LetterKeycap", "a⃣", false},
		{"LoneKeycapMark", "\u20e3", false},
		{"LetterThenThumb", "a👍", false},
		{"ThumbThenLetter", "👍a", false},
		{"WordThenThumb", "ok👍", false},
		{"ThumbThenBang", "👍!", false},
		{"LetterZWJThumb", "a\u200d👍", false},
		{"Accented", "é", false},
		{"Han", "字", false},

		// Several emoji.
		{"TwoThumbs", "👍👍", false},
		{"HundredThumbs", strings.Repeat("👍", 100), false},
		{"TwoFlags", "🇫🇷🇩🇪", false},
		{"FlagAndHalf", "🇫🇷🇩", false},
		{"ThumbSpaceThumb", "👍 👍", false},
		{"KeycapTwice", "1️⃣1️⃣", false},

		// Spaces, controls and invisible characters, alone or around an emoji.
		{"Space", " ", false},
		{"Tab", "\t", false},
		{"NBSP", "\u00a0", false},
		{"ZeroWidthSpace", "\u200b", false},
		{"LoneZWJ", "\u200d", false},
		{"LoneVariationSelector", "\ufe0f", false},
		{"LoneCombiningAcute", "\u0301", false},
		{"ThumbThenSpace", "👍 ", false},
		{"SpaceThenThumb", " 👍", false},
		{"ThumbThenNewline", "👍\n", false},
		{"ThumbThenCRLF", "👍\r\n", false},
		{"ThumbThenNUL", "👍\x00", false},
		{"ThumbThenZWSP", "👍\u200b", false},
		{"RightToLeftOverrideThumb", "\u202e👍", false},
		{"ThumbRightToLeftOverride", "👍\u202e", false},
		{"NUL", "\x00", false},
		{"SOH", "\x01", false},
		{"DEL", "\x7f", false},
		{"Newline", "\n", false},
		{"CRLF", "\r\n", false},
		{"NextLine", "\u0085", false},

		// Not UTF-8.
		{"ByteFF", "\xff", false},
		{"BadContinuation", "\xc3\x28", false},
		{"Surrogate", "\xed\xa0\x80", false},
		{"BeyondUnicode", "\xf4\x90\x80\x80", false},
		{"OverlongSlash", "\xc0\xaf", false},
		{"ThumbThenFF", "👍\xff", false},
		{"TruncatedThumb", "\xf0\x9f\x91", false},

		// One grapheme cluster, but too long to store.
		{"Symbol30CombiningMarks", "☺" + strings.Repeat("\u20dd", 30), false},
		{"Symbol31Acutes65Bytes", "☺" + strings.Repeat("\u0301", 31), false},
		{"BlackFlag20Tags", "🏴" + strings.Repeat("\U000E0061", 20) + "\U000E007F", false},
	}
}

func TestValidEmoji(t *testing.T) {
	t.Parallel()
	for _, tc := range validEmojiCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.valid, validEmoji(tc.in), "validEmoji(%q) (%d bytes, % x)", tc.in, len(tc.in), tc.in)
		})
	}
}

// The length limit is on bytes: a single grapheme cluster of 65 bytes, which only the limit can
// refuse, is one byte too many.
func TestValidEmojiByteLimit(t *testing.T) {
	t.Parallel()
	long := "☺" + strings.Repeat("\u0301", 31)
	require.Equal(t, maxEmojiBytes+1, len(long))
	require.Equal(t, 1, uniseg.GraphemeClusterCount(long))
	require.False(t, validEmoji(long))
	require.True(t, validEmoji(long[:len(long)-2]), "the same symbol with 30 marks is 63 bytes")
}
