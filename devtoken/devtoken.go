// Package devtoken mints the HS256 tokens of development and tests, and keeps the local
// development secret that `parley serve --dev` verifies them with. `parley token`, the load tool
// and the server's tests share it; production tokens come from an identity provider.
package devtoken

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/internal/userid"
)

// CheckUserID says why a user id cannot be a token's subject, or nil when it can.
func CheckUserID(userID string) error {
	if !userid.Valid(userID) {
		return fmt.Errorf("user id %q: want 1-128 of [A-Za-z0-9._:@-]", userID)
	}
	return nil
}

// Issue signs an HS256 token whose sub is userID, valid for ttl from now. Issuer and audience
// are set when not empty.
func Issue(secret []byte, userID, issuer, audience string, ttl time.Duration) (string, error) {
	if err := CheckUserID(userID); err != nil {
		return "", err
	}
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Subject:   userID,
		Issuer:    issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	if audience != "" {
		claims.Audience = jwt.ClaimStrings{audience}
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign token for %q: %w", userID, err)
	}
	return token, nil
}

// secretBytes is the length of a fresh secret's random part (it is stored hex-encoded). A
// shorter file than that is not trusted and is replaced.
const secretBytes = 32

// LocalSecret returns the development HS256 secret that `serve --dev` verifies and `token`
// signs with, creating it on first use in the user's config directory (mode 0600). It never
// leaves this machine and is not meant for production.
func LocalSecret() ([]byte, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("locate config directory for the dev secret: %w", err)
	}
	return secretAt(filepath.Join(dir, "parley", "dev-secret"))
}

func secretAt(path string) ([]byte, error) {
	secret, err := os.ReadFile(path)
	if err == nil && len(secret) >= secretBytes {
		return secret, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read dev secret: %w", err)
	}
	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate dev secret: %w", err)
	}
	secret = []byte(hex.EncodeToString(raw))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create dev secret directory: %w", err)
	}
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("write dev secret: %w", err)
	}
	return secret, nil
}
