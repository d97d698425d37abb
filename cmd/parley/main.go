// Command parley runs the Parley messaging backend: `serve`, `migrate`, `token`, `webhooks`,
// `version` and `help`. The load tool is a binary of its own, parley-bench.
// Every flag can also be set through the environment as PARLEY_<FLAG> (dashes become
// underscores, e.g. --database-url is PARLEY_DATABASE_URL).
//
// parley exits 0 after success, a clean stop on SIGINT or SIGTERM, or help asked for (-h, help);
// 2 after a command line it cannot run (an unknown command or flag, a bad flag value); 1 after
// any other error.
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
	"strings"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitStatus(err, os.Stderr))
}

// usageError is a command line parley cannot run: an unknown command or flag, a flag value that
// does not parse. Its usage, when set, is shown after it.
type usageError struct{ msg, usage string }

func (e usageError) Error() string { return e.msg }

// exitStatus reports err on stderr and returns the exit status: 0 after success (a clean stop on
// SIGINT or SIGTERM included) or asked-for help, 2 after a usage error, 1 after any other error.
func exitStatus(err error, stderr io.Writer) int {
	var usage usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		if usage.msg != "" {
			fmt.Fprintf(stderr, "parley: %s\n", usage.msg)
			if usage.usage != "" {
				fmt.Fprintln(stderr)
			}
		}
		fmt.Fprint(stderr, usage.usage)
		return 2
	default:
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
}

// run runs the command args name, its flags set from args and the environment.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := commandTree(stdout, stderr)
	// The flag package calls a command's Usage on -h and on any error in its flags: that is how
	// run learns which command to show. run prints usage itself, the flag package nothing.
	var shown *ffcli.Command
	commands := allCommands(root)
	for _, c := range commands {
		c.FlagSet.SetOutput(io.Discard)
		c.UsageFunc = func(c *ffcli.Command) string { shown = c; return "" }
	}
	if err := root.Parse(args); err != nil {
		return parseError(err, shown, stdout)
	}
	// Flags the command line left unset come from the environment; only those of the commands
	// named on it, whose flag sets Parse has parsed.
	for _, c := range commands {
		if c.FlagSet.Parsed() {
			if err := fromEnv(c.FlagSet); err != nil {
				return err
			}
		}
	}
	return root.Run(ctx)
}

// commandTree is parley and its commands.
func commandTree(stdout, stderr io.Writer) *ffcli.Command {
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
			migrateCommand(stdout),
			tokenCommand(stdout),
			webhooksCommand(stdout),
			versionCommand(stdout),
		},
	}
	root.Exec = groupExec(root)
	root.Subcommands = append(root.Subcommands, helpCommand(root, stdout))
	return root
}

func allCommands(c *ffcli.Command) []*ffcli.Command {
	all := []*ffcli.Command{c}
	for _, sub := range c.Subcommands {
		all = append(all, allCommands(sub)...)
	}
	return all
}

// parseError turns an error parsing the flags of c into help, for -h, or a usage error.
func parseError(err error, c *ffcli.Command, stdout io.Writer) error {
	if c == nil { // not the flag package's error: it calls Usage on each of its own
		return err
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, ffcli.DefaultUsageFunc(c))
		return flag.ErrHelp
	}
	var refusal error
	c.FlagSet.VisitAll(func(f *flag.Flag) {
		if r, ok := f.Value.(refuser); ok && r.refused() != nil {
			refusal = fmt.Errorf("--%s: %w", f.Name, r.refused())
		}
	})
	if refusal != nil { // one line: the flag, the value and what the flag takes
		return usageError{msg: refusal.Error()}
	}
	if inner := errors.Unwrap(err); inner != nil { // ff's prefix adds nothing
		err = inner
	}
	return usageError{msg: err.Error(), usage: ffcli.DefaultUsageFunc(c)}
}

// groupExec runs a command that only groups subcommands: alone, or followed by a name that is
// none of them, it is a usage error showing its usage, which lists them.
func groupExec(c *ffcli.Command) func(context.Context, []string) error {
	return func(_ context.Context, args []string) error {
		return unknownCommand(c, args)
	}
}

func unknownCommand(c *ffcli.Command, args []string) usageError {
	err := usageError{usage: ffcli.DefaultUsageFunc(c)}
	if len(args) > 0 {
		err.msg = fmt.Sprintf("unknown command %q", args[0])
	}
	return err
}

// helpCommand shows the usage of root, or of the command its arguments name, on stdout.
func helpCommand(root *ffcli.Command, stdout io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "help",
		ShortUsage: "parley help [<command> ...]",
		ShortHelp:  "Show the usage of parley or of a command (as -h does).",
		FlagSet:    flag.NewFlagSet("parley help", flag.ContinueOnError),
		Exec: func(_ context.Context, args []string) error {
			c := root
			for i, name := range args {
				sub := subcommand(c, name)
				if sub == nil {
					return unknownCommand(c, args[i:])
				}
				c = sub
			}
			fmt.Fprint(stdout, ffcli.DefaultUsageFunc(c))
			return nil
		},
	}
}

// subcommand is the subcommand of c that name names, as ffcli matches it; nil when none.
func subcommand(c *ffcli.Command, name string) *ffcli.Command {
	for _, sub := range c.Subcommands {
		if strings.EqualFold(name, sub.Name) {
			return sub
		}
	}
	return nil
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
