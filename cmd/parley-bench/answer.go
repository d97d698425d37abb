package main

import (
	"fmt"

	"github.com/parleyhq/parley/gen/api"
)

// answered is nil when a typed-client call succeeded, else what went wrong, for an error: the
// transport's error or the answer's problem.
func answered(resp api.Response, err error, doing string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	if p := api.ProblemOf(resp); p != nil {
		return fmt.Errorf("%s: %w", doing, p)
	}
	return nil
}

// clip shortens an answer for an error message.
func clip(body []byte) string {
	if len(body) > 300 {
		return string(body[:300]) + "…"
	}
	return string(body)
}

func ptr[T any](v T) *T { return &v }
