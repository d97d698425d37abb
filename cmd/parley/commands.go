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
	"github.com/parleyhq/parley/devtoken"
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
	secret := fs.String("jwt-secret", "", "HS256 secret the server verifies (its --jwt-secret); without it, the local development secret")
	issuer := fs.String("jwt-issuer", "", "token issuer (iss), when the server requires one")
	audience := fs.String("jwt-audience", "", "token audience (aud), when the server requires one")
	// --jwks-url is read so that a JWKS setup in the environment is refused rather than answered
	// with a token the server would not accept; --dev so that serve's flags work here unchanged.
	jwksURL := fs.String("jwks-url", "", "set when the server verifies with a JWKS: then its tokens come from the identity provider")
	fs.Bool("dev", false, "no effect: without --jwt-secret, token always signs with the local development secret")
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
			key := []byte(*secret)
			if *secret == "" {
				if *jwksURL != "" {
					return errors.New("tokens for a JWKS setup come from your identity provider; 'parley token' signs with a secret")
				}
				var err error
				if key, err = devtoken.LocalSecret(); err != nil {
					return err
				}
			}
			token, err := devtoken.Issue(key, args[0], *issuer, *audience, *ttl)
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
