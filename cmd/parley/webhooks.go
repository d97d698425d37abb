package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/server"
)

// webhooksCommand is `parley webhooks list|retry`: the dead letters, webhooks that failed for the
// whole retry period.
func webhooksCommand(stdout io.Writer) *ffcli.Command {
	withPool := func(ctx context.Context, databaseURL string, fn func(*db.Queries) error) error {
		pool, err := pgxpool.New(ctx, databaseURL)
		if err != nil {
			return fmt.Errorf("open database pool: %w", err)
		}
		defer pool.Close()
		return fn(db.New(pool))
	}

	listFlags := flag.NewFlagSet("parley webhooks list", flag.ContinueOnError)
	listURL := listFlags.String("database-url", server.DefaultDatabaseURL, "PostgreSQL URL")
	var limit int
	positiveIntFlag(listFlags, &limit, "limit", 100, 10_000, "how many dead letters to show, oldest first")
	var asJSON bool
	boolFlag(listFlags, &asJSON, "json", false, "print JSON (an array) instead of a table")
	list := &ffcli.Command{
		Name:       "list",
		ShortUsage: "parley webhooks list [flags]",
		ShortHelp:  "Show the dead letters: webhooks that failed for the whole retry period.",
		FlagSet:    listFlags,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usageError{msg: "list takes no arguments", usage: "USAGE\n  parley webhooks list [flags]\n"}
			}
			return withPool(ctx, *listURL, func(q *db.Queries) error {
				letters, err := q.WebhookDeadLetterList(ctx, int32(limit))
				if err != nil {
					return fmt.Errorf("list dead letters: %w", err)
				}
				if asJSON {
					return printDeadLettersJSON(stdout, letters)
				}
				return printDeadLetters(stdout, letters)
			})
		},
	}

	retryFlags := flag.NewFlagSet("parley webhooks retry", flag.ContinueOnError)
	retryURL := retryFlags.String("database-url", server.DefaultDatabaseURL, "PostgreSQL URL")
	var all bool
	boolFlag(retryFlags, &all, "all", false, "retry every dead letter")
	const retryUsage = "USAGE\n  parley webhooks retry [flags] (--all | <id>...)\n"
	retry := &ffcli.Command{
		Name:       "retry",
		ShortUsage: "parley webhooks retry [flags] (--all | <id>...)",
		ShortHelp:  "Send dead letters again, from the start of a new retry period.",
		LongHelp: "Move the dead letters named (or, with --all, every one) back to the webhooks\n" +
			"being sent. A running node sends them at its next poll.",
		FlagSet: retryFlags,
		Exec: func(ctx context.Context, ids []string) error {
			switch {
			case all && len(ids) > 0:
				return usageError{msg: "retry takes --all or ids, not both", usage: retryUsage}
			case !all && len(ids) == 0:
				return usageError{msg: "retry takes --all or the ids of dead letters", usage: retryUsage}
			}
			return withPool(ctx, *retryURL, func(q *db.Queries) error {
				moved, err := q.WebhookDeadLetterRetry(ctx, ids) // no ids: all of them
				if err != nil {
					return fmt.Errorf("retry dead letters: %w", err)
				}
				fmt.Fprintf(stdout, "%d dead letter(s) queued to be sent again\n", moved)
				if !all && moved < int64(len(ids)) {
					fmt.Fprintf(stdout, "%d id(s) named no dead letter\n", int64(len(ids))-moved)
				}
				return nil
			})
		},
	}

	root := &ffcli.Command{
		Name:        "webhooks",
		ShortUsage:  "parley webhooks <list|retry> [flags]",
		ShortHelp:   "List or resend webhooks that failed for the whole retry period.",
		FlagSet:     flag.NewFlagSet("parley webhooks", flag.ContinueOnError),
		Subcommands: []*ffcli.Command{list, retry},
	}
	root.Exec = groupExec(root)
	return root
}

func printDeadLetters(w io.Writer, letters []db.WebhookDeadLetterListRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tATTEMPTS\tDEAD AT\tLAST ERROR")
	for _, l := range letters {
		lastError := ""
		if l.LastError != nil {
			lastError = oneLine(*l.LastError, 80)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", l.ID, l.Type, l.Attempts, l.DeadAt.UTC().Format(time.RFC3339), lastError)
	}
	return tw.Flush()
}

// deadLetter is a dead letter as `parley webhooks list --json` prints it.
type deadLetter struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Attempts  int32     `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	DeadAt    time.Time `json:"dead_at"`
	LastError *string   `json:"last_error"`
}

func printDeadLettersJSON(w io.Writer, letters []db.WebhookDeadLetterListRow) error {
	out := make([]deadLetter, len(letters))
	for i, l := range letters {
		out[i] = deadLetter{ID: l.ID, Type: l.Type, Attempts: l.Attempts, CreatedAt: l.CreatedAt.UTC(), DeadAt: l.DeadAt.UTC(), LastError: l.LastError}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// oneLine is s on one line, cut to n characters, for a table cell.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// positiveIntFlag is an int flag taking 1 to maxValue.
func positiveIntFlag(fs *flag.FlagSet, p *int, name string, value, maxValue int, usage string) {
	*p = value
	parse := func(text string) (int, error) {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 || n > maxValue {
			return 0, fmt.Errorf("%q is not a whole number from 1 to %d", text, maxValue)
		}
		return n, nil
	}
	fs.Var(&flagValue[int]{p: p, parse: parse}, name, usage)
}
