package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/parleyhq/parley/db/migrations"
	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/server"
)

func migrateCommand(stdout io.Writer) *ffcli.Command {
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
	}
	root.Exec = groupExec(root)
	return root
}

func tokenCommand(stdout io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("parley token", flag.ContinueOnError)
	secret := fs.String("jwt-secret", "", "HS256 secret the server verifies (its --jwt-secret); without it, the local development secret")
	issuer := fs.String("jwt-issuer", "", "token issuer (iss), when the server requires one")
	audience := fs.String("jwt-audience", "", "token audience (aud), when the server requires one")
	var ttl time.Duration
	durationFlag(fs, &ttl, "ttl", 24*time.Hour, "how long the token is valid")
	return &ffcli.Command{
		Name:       "token",
		ShortUsage: "parley token [flags] <user-id>",
		ShortHelp:  "Mint an HS256 token for a user (development and tests).",
		LongHelp: "Mint an HS256 token whose sub is the user id, signed with --jwt-secret\n" +
			"(PARLEY_JWT_SECRET) or, without it, with the local development secret that\n" +
			"'parley serve --dev' verifies.",
		FlagSet: fs,
		Exec: func(_ context.Context, args []string) error {
			if len(args) != 1 {
				return usageError{msg: "token takes one user id", usage: "USAGE\n  parley token [flags] <user-id>\n"}
			}
			key := []byte(*secret)
			if *secret == "" {
				var err error
				if key, err = devtoken.LocalSecret(); err != nil {
					return err
				}
			}
			token, err := devtoken.Issue(key, args[0], *issuer, *audience, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, token)
			return nil
		},
	}
}

// version and commit are stamped by the linker (make build: -ldflags "-X main.version=… -X
// main.commit=…"); a plain go build leaves them empty, and the build information stands in.
var version, commit string

func versionCommand(stdout io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "version",
		ShortUsage: "parley version",
		ShortHelp:  "Print the version.",
		FlagSet:    flag.NewFlagSet("parley version", flag.ContinueOnError),
		Exec: func(context.Context, []string) error {
			info, _ := debug.ReadBuildInfo()
			fmt.Fprintln(stdout, versionLine(version, commit, info))
			return nil
		},
	}
}

// versionLine is `parley <version> (commit <commit>, <go version>)`. What the linker did not
// stamp comes from info, the module version and VCS revision the go command records.
func versionLine(version, commit string, info *debug.BuildInfo) string {
	if info != nil {
		if version == "" {
			version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && commit == "" {
				commit = s.Value[:min(len(s.Value), 12)]
			}
		}
	}
	if version == "" {
		version = "(devel)"
	}
	if commit == "" {
		return fmt.Sprintf("parley %s (%s)", version, runtime.Version())
	}
	return fmt.Sprintf("parley %s (commit %s, %s)", version, commit, runtime.Version())
}
