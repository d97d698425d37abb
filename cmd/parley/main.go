// Command parley runs the Parley messaging backend: `serve`, `migrate`, `token` and `version`.
// The load tool is a binary of its own, parley-bench.
// Every flag can also be set through the environment as PARLEY_<FLAG> (dashes become
// underscores, e.g. --database-url is PARLEY_DATABASE_URL).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &ffcli.Command{
		ShortUsage: "parley <command> [flags]",
		ShortHelp:  "Parley, a schema-first real-time messaging backend.",
		LongHelp: "Parley serves conversations, members and messages over an HTTP API generated from\n" +
			"its OpenAPI document, backed by PostgreSQL.\n\n" +
			"Every flag can also be set in the environment as PARLEY_<FLAG>, e.g. --database-url\n" +
			"as PARLEY_DATABASE_URL. Run 'parley <command> -h' for a command's flags.",
		FlagSet: flag.NewFlagSet("parley", flag.ContinueOnError),
		Subcommands: []*ffcli.Command{
			serveCommand(stderr),
			migrateCommand(stdout, stderr),
			tokenCommand(stdout),
			versionCommand(stdout),
		},
		Exec: func(context.Context, []string) error { return flag.ErrHelp },
	}
	for _, c := range append(root.Subcommands, root) {
		c.FlagSet.SetOutput(stderr)
	}
	return root.ParseAndRun(ctx, args)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
}
