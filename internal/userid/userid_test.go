package userid

import (
	"regexp"
	"strings"
	"testing"
)

// Valid agrees with the UserID schema's pattern, on the edges and on every single byte.
func TestValidIsTheSchemaPattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`)
	cases := []string{"", "a", "alice", "carol@example.com", "a b", "é", "a/b", "x:y.z_w-1", strings.Repeat("a", 128), strings.Repeat("a", 129), "alice\n"}
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}), "a"+string([]byte{byte(b)}))
	}
	for _, id := range cases {
		if got, want := Valid(id), pattern.MatchString(id); got != want {
			t.Errorf("Valid(%q) = %v, the pattern says %v", id, got, want)
		}
	}
}
