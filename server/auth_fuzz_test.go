package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzAuthenticate feeds arbitrary strings to the bearer token check that guards every /v1 route.
// Mutations almost never carry a valid signature, so the accepting path is reached through the
// signed seeds; the fuzzer's job is to show that nothing else gets through.
func FuzzAuthenticate(f *testing.F) {
	a := startAuthenticator(f, AuthConfig{Secret: []byte(testSecret)})
	addTokenSeeds(f)

	f.Fuzz(func(t *testing.T, token string) {
		id, err := a.Authenticate(token)
		if err != nil {
			return
		}
		checkAcceptedToken(t, token, id)
	})
}

// hs256Header is the header golang-jwt writes for an HS256 token.
const hs256Header = `{"alg":"HS256","typ":"JWT"}`

// addTokenSeeds adds tokens signed with the test secret, some valid and some with claims or a
// header that must be refused, and a valid token mangled in transit.
func addTokenSeeds(f *testing.F) {
	exp := time.Now().Add(time.Hour).Unix()
	claims := func(body string) string { return strings.ReplaceAll(body, "EXP", strconv.FormatInt(exp, 10)) }
	valid := tokenFor(f, "alice")
	for _, seeds := range [][]string{
		claimSeeds(f, valid, claims),
		headerSeeds(claims),
		mangledTokenSeeds(valid),
	} {
		for _, seed := range seeds {
			f.Add(seed)
		}
	}
}

// claimSeeds are HS256 tokens signed with the test secret whose claims vary: subjects, expiry
// spellings, other dates and claims, malformed claims JSON. claims puts a future expiry in place
// of EXP.
func claimSeeds(tb testing.TB, valid string, claims func(string) string) []string {
	return []string{
		valid,
		tokenFor(tb, strings.Repeat("a", 128)),
		tokenFor(tb, "user.name_1:x@example-host"),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"bob","exp":EXP}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"bob","exp":EXP.75}`)),
		// golang-jwt reads a NumericDate from a string holding a number.
		signedToken(sha256.New, hs256Header, claims(`{"sub":"bob","exp":"EXP"}`)),
		signedToken(sha256.New, hs256Header, `{"sub":"bob","exp":"soon"}`),
		signedToken(sha256.New, hs256Header, claims(`{"SUB":"bob","Exp":EXP}`)),
		signedToken(sha256.New, hs256Header, `{"sub":"bob","exp":1e300}`),
		signedToken(sha256.New, hs256Header, `{"sub":"bob","exp":-1e300}`),
		signedToken(sha256.New, hs256Header, `{"sub":"bob","exp":9223372036854775807}`),
		signedToken(sha256.New, hs256Header, `{"sub":"bob","exp":1e400}`),
		signedToken(sha256.New, hs256Header, `{"sub":"bob","exp":1}`),
		signedToken(sha256.New, hs256Header, `{"sub":"bob"}`),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"bob","exp":EXP,"nbf":EXP}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"bob","exp":EXP,"iat":"x"}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"bob","exp":EXP,"aud":["x",1]}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"","exp":EXP}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"bob smith","exp":EXP}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"bob\n","exp":EXP}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"b\u0000b","exp":EXP}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"élodie","exp":EXP}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"`+strings.Repeat("a", 129)+`","exp":EXP}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":42,"exp":EXP}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"bob","exp":EXP,"sub":"eve"}`)),
		signedToken(sha256.New, hs256Header, claims(`{"sub":"bob","exp":EXP,"pad":"`+strings.Repeat("x", maxTokenBytes)+`"}`)),
		signedToken(sha256.New, hs256Header, `[]`),
		signedToken(sha256.New, hs256Header, `{"sub":`),
	}
}

// headerSeeds are tokens with the right claims whose header names another algorithm, or none,
// or is malformed, or has critical extensions.
func headerSeeds(claims func(string) string) []string {
	return []string{
		signedToken(sha256.New, `{"alg":"HS256"`, claims(`{"sub":"bob","exp":EXP}`)),
		signedToken(sha256.New, `{"alg":["HS256"]}`, claims(`{"sub":"bob","exp":EXP}`)),
		signedToken(sha256.New, `{"alg":"hs256"}`, claims(`{"sub":"bob","exp":EXP}`)),
		signedToken(sha256.New, `{"alg":"RS256"}`, claims(`{"sub":"bob","exp":EXP}`)),
		signedToken(sha512.New, `{"alg":"HS512"}`, claims(`{"sub":"bob","exp":EXP}`)),
		signedToken(sha256.New, `{"alg":"HS256","crit":["exp"]}`, claims(`{"sub":"bob","exp":EXP}`)),
		unsignedToken(`{"alg":"none"}`, claims(`{"sub":"bob","exp":EXP}`)),
		unsignedToken(`{"alg":"None","typ":"JWT"}`, claims(`{"sub":"bob","exp":EXP}`)),
	}
}

// mangledTokenSeeds are a valid token cut short, extended, re-encoded, prefixed and padded, and
// strings that are hardly tokens at all.
func mangledTokenSeeds(valid string) []string {
	segments := strings.Split(valid, ".")
	return []string{
		segments[0] + "." + segments[1] + ".",
		segments[0] + "." + segments[1],
		valid[:len(valid)-1],
		valid[:len(valid)/2],
		valid + ".",
		valid + "." + segments[2],
		valid + "=",
		segments[0] + "=." + segments[1] + "." + segments[2],
		segments[0] + ".!" + segments[1][1:] + "." + segments[2],
		strings.NewReplacer("-", "+", "_", "/").Replace(valid),
		" " + valid,
		"Bearer " + valid,
		valid + strings.Repeat("A", maxTokenBytes),
		strings.Repeat("a", maxTokenBytes+1),
		"",
		".",
		"..",
		"...",
		"\xff\xfe.\x00.\x80",
	}
}

// checkAcceptedToken checks a token the Authenticator accepted as id: it must verify with
// golang-jwt on its own, configured from scratch, and with a signature recomputed here, so a
// mistake in the Authenticator's setup cannot hide.
func checkAcceptedToken(t *testing.T, token string, id Identity) {
	t.Helper()
	if len(token) > maxTokenBytes {
		t.Fatalf("accepted a token of %d bytes", len(token))
	}
	// RegisteredClaims: what it refuses, the Authenticator must refuse too (the Authenticator
	// is stricter still: no numeric-string dates, no claim names in another case).
	var claims jwt.RegisteredClaims
	parsed, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) {
		return []byte(testSecret), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second)) // the Authenticator's clock skew allowance
	if err != nil {
		t.Fatalf("accepted %q, which golang-jwt refuses: %v", token, err)
	}
	if parsed.Header["alg"] != "HS256" || parsed.Method != jwt.SigningMethodHS256 {
		t.Fatalf("accepted alg %v", parsed.Header["alg"])
	}
	if _, ok := parsed.Header["crit"]; ok {
		t.Fatalf("accepted a token with critical extensions %v", parsed.Header["crit"])
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted a token of %d segments", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("accepted a signature that is not base64url: %v", err)
	}
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		t.Fatal("accepted a token whose HMAC-SHA256 does not match")
	}
	if claims.Subject == "" || claims.Subject != id.UserID || !regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`).MatchString(claims.Subject) {
		t.Fatalf("identity %q, token sub %q", id.UserID, claims.Subject)
	}
	if claims.ExpiresAt == nil || !claims.ExpiresAt.Equal(id.ExpiresAt) {
		t.Fatalf("identity expires %v, token exp %v", id.ExpiresAt, claims.ExpiresAt)
	}
	if time.Until(id.ExpiresAt) < -30*time.Second {
		t.Fatalf("accepted a token that expired at %v", id.ExpiresAt)
	}
}

func rawB64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signedToken builds a token from raw header and claims JSON, signed with testSecret, so seeds can
// carry what golang-jwt would never produce.
func signedToken(h func() hash.Hash, header, claims string) string {
	input := rawB64(header) + "." + rawB64(claims)
	mac := hmac.New(h, []byte(testSecret))
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func unsignedToken(header, claims string) string { return rawB64(header) + "." + rawB64(claims) + "." }
