package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/parleyhq/parley/db/migrations"
	"github.com/parleyhq/parley/server"
)

func migrateCommand(stdout, stderr io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("parley migrate", flag.ContinueOnError)
	databaseURL := fs.String("database-url", server.DefaultDatabaseURL, "PostgreSQL URL")
	withPool := func(ctx context.Context, fn func(*pgxpool.Pool) error) error {
		pool, err := pgxpool.New(ctx, *databaseURL)
		if err != nil {
			return fmt.Errorf("open database pool: %w", err)
		}
		defer pool.Close()
		return fn(pool)
	}
	up := &ffcli.Command{
		Name:       "up",
		ShortUsage: "parley migrate up [flags]",
		ShortHelp:  "Apply every pending migration (creating the database when missing).",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("PARLEY")},
		Exec: func(ctx context.Context, _ []string) error {
			if _, err := migrations.EnsureDatabase(ctx, *databaseURL); err != nil {
				return err
			}
			return withPool(ctx, func(pool *pgxpool.Pool) error {
				applied, err := migrations.Up(ctx, pool)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "applied %d migration(s) %v\n", len(applied), applied)
				return nil
			})
		},
	}
	status := &ffcli.Command{
		Name:       "status",
		ShortUsage: "parley migrate status [flags]",
		ShortHelp:  "List migrations and whether each is applied.",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("PARLEY")},
		Exec: func(ctx context.Context, _ []string) error {
			return withPool(ctx, func(pool *pgxpool.Pool) error {
				statuses, err := migrations.List(ctx, pool)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tSTATE\tFILE")
				for _, s := range statuses {
					state := "pending"
					if s.Applied {
						state = "applied"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Version, state, s.Source)
				}
				return tw.Flush()
			})
		},
	}
	root := &ffcli.Command{
		Name:        "migrate",
		ShortUsage:  "parley migrate <up|status> [flags]",
		ShortHelp:   "Apply or list database migrations (serve also migrates at start).",
		FlagSet:     flag.NewFlagSet("parley migrate", flag.ContinueOnError),
		Subcommands: []*ffcli.Command{up, status},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
	for _, c := range []*ffcli.Command{root, up, status} {
		c.FlagSet.SetOutput(stderr)
	}
	return root
}

func tokenCommand(stdout io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("parley token", flag.ContinueOnError)
	var auth authFlags
	auth.register(fs)
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	return &ffcli.Command{
		Name:       "token",
		ShortUsage: "parley token [flags] <user-id>",
		ShortHelp:  "Mint an HS256 token for a user (development and tests).",
		LongHelp: "Mint an HS256 token whose sub is the user id, signed with --jwt-secret\n" +
			"(PARLEY_JWT_SECRET) or, without it, with the local development secret that\n" +
			"'parley serve --dev' verifies.",
		FlagSet: fs,
		Options: []ff.Option{ff.WithEnvVarPrefix("PARLEY")},
		Exec: func(_ context.Context, args []string) error {
			if len(args) != 1 {
				return errors.New("usage: parley token [flags] <user-id>")
			}
			auth.dev = true
			cfg, err := auth.config()
			if err != nil {
				return err
			}
			if cfg.JWKSURL != "" && auth.secret == "" {
				return errors.New("tokens for a JWKS setup come from your identity provider; 'parley token' signs with a secret")
			}
			token, err := server.IssueToken(cfg.Secret, args[0], cfg.Issuer, cfg.Audience, *ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, token)
			return nil
		},
	}
}

func versionCommand(stdout io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "version",
		ShortUsage: "parley version",
		ShortHelp:  "Print the version.",
		FlagSet:    flag.NewFlagSet("parley version", flag.ContinueOnError),
		Exec: func(context.Context, []string) error {
			version, revision := "(devel)", ""
			if info, ok := debug.ReadBuildInfo(); ok {
				version = info.Main.Version
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						revision = " " + s.Value
					}
				}
			}
			fmt.Fprintf(stdout, "parley %s%s %s\n", version, revision, runtime.Version())
			return nil
		},
	}
}
