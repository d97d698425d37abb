package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server"
)

// These tests change the environment, so they do not run in parallel.

func runParley(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

func TestTokenFromDevSecretVerifiesWithServeDev(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("PARLEY_JWT_SECRET", "")
	out, err := runParley(t, "token", "alice")
	require.NoError(t, err)
	token := strings.TrimSpace(out)

	flags := authFlags{dev: true}
	cfg, err := flags.config()
	require.NoError(t, err)
	auth, err := server.NewAuthenticator(cfg, discardLogger())
	require.NoError(t, err)
	id, err := auth.Authenticate(token)
	require.NoError(t, err)
	require.Equal(t, "alice", id.UserID)
}

func TestTokenUsesSecretFromEnvironment(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("PARLEY_JWT_SECRET", "a-secret-from-the-environment-32b")
	t.Setenv("PARLEY_JWT_ISSUER", "parley-test")
	out, err := runParley(t, "token", "--ttl", "5m", "bob")
	require.NoError(t, err)

	auth, err := server.NewAuthenticator(server.AuthConfig{Secret: []byte("a-secret-from-the-environment-32b"), Issuer: "parley-test"}, discardLogger())
	require.NoError(t, err)
	id, err := auth.Authenticate(strings.TrimSpace(out))
	require.NoError(t, err)
	require.Equal(t, "bob", id.UserID)

	_, err = runParley(t, "token", "not a valid id")
	require.Error(t, err)
}

// Each command's help lists the flags it uses, and no other.
func TestHelpListsTheFlagsEachCommandUses(t *testing.T) {
	for command, want := range map[string][]string{
		"token":          {"jwt-audience", "jwt-issuer", "jwt-secret", "ttl"},
		"migrate up":     {"database-url"},
		"migrate status": {"database-url"},
		"version":        nil,
	} {
		out, err := runParley(t, append(strings.Fields(command), "-h")...)
		require.ErrorIs(t, err, flag.ErrHelp)
		_, flags, _ := strings.Cut(out, "\nFLAGS\n")
		var listed []string
		for _, line := range strings.Split(flags, "\n") {
			if name, ok := strings.CutPrefix(line, "  -"); ok {
				listed = append(listed, strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == '=' })[0])
			}
		}
		require.Equal(t, want, listed, "parley %s -h:\n%s", command, out)
	}
}

// Every boolean flag of every command, refusing a value, names itself, as --flag on the command
// line and PARLEY_FLAG in the environment, and the values it takes; parley then exits 2.
func TestEveryBooleanFlagNamesItselfRefusingAValue(t *testing.T) {
	const refusal = `: "yes" is not a boolean (want true or false, 1 or 0)`
	checked := 0
	var visit func(path []string, c *ffcli.Command)
	visit = func(path []string, c *ffcli.Command) {
		c.FlagSet.VisitAll(func(f *flag.Flag) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				return
			}
			checked++
			_, err := runParley(t, append(path, "--"+f.Name+"=yes")...)
			require.EqualError(t, err, "--"+f.Name+refusal)
			require.Equal(t, 2, exitStatus(err, io.Discard))

			t.Setenv(envName(f.Name), "yes")
			_, err = runParley(t, path...)
			require.EqualError(t, err, envName(f.Name)+refusal)
			require.Equal(t, 2, exitStatus(err, io.Discard))
			t.Setenv(envName(f.Name), "")
		})
		for _, sub := range c.Subcommands {
			visit(append(path, sub.Name), sub)
		}
	}
	visit(nil, commandTree(io.Discard, io.Discard))
	require.Equal(t, 4, checked, "serve's --dev and --migrate, webhooks list --json and webhooks retry --all")
}

// Without the linker's stamp, version falls back on what the go command recorded of the build.
func TestVersionLineFallsBackOnTheBuildInfo(t *testing.T) {
	goVersion := runtime.Version()
	info := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}}}
	require.Equal(t, "parley v1.2.3 (commit 0123456789ab, "+goVersion+")", versionLine("", "", info))
	require.Equal(t, "parley v2.0.0 (commit c0ffee1, "+goVersion+")", versionLine("v2.0.0", "c0ffee1", info), "the stamp wins")
	require.Equal(t, "parley (devel) ("+goVersion+")", versionLine("", "", &debug.BuildInfo{}))
	require.Equal(t, "parley (devel) ("+goVersion+")", versionLine("", "", nil))
}

func TestServeRefusesToStartWithoutAuth(t *testing.T) {
	t.Setenv("PARLEY_JWT_SECRET", "")
	t.Setenv("PARLEY_JWKS_URL", "")
	_, err := runParley(t, "serve", "--addr", "127.0.0.1:0")
	require.ErrorContains(t, err, "--dev")
}

func TestVersionAndHelp(t *testing.T) {
	out, err := runParley(t, "version")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "parley "), out)

	out, _ = runParley(t, "serve", "--help")
	for _, flag := range []string{"-database-url", "-jwks-url", "-jwt-secret", "-dev", "PARLEY_"} {
		require.Contains(t, out, flag)
	}
}
