package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// composeFile is what deploy/compose.yaml says of each service, after YAML merges.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

// interpolation is compose's ${NAME:?message} and ${NAME} forms.
var interpolation = regexp.MustCompile(`\$\{([A-Z_]+)(:\?[^}]*)?\}`)

// Every Parley node of deploy/compose.yaml starts with the settings it is given: its command is a
// command of parley, each flag on it and each PARLEY_* variable is a real flag of that command,
// and their values pass its checks. The start then stops before it connects anywhere, so no image
// is pulled and no network is needed.
func TestComposeNodesStartWithTheirSettings(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/compose.yaml")
	require.NoError(t, err)
	text := interpolation.ReplaceAllStringFunc(string(raw), func(m string) string {
		name := interpolation.FindStringSubmatch(m)[1]
		require.Equal(t, "PARLEY_JWT_SECRET", name, "compose.yaml reads a variable this test does not know")
		return "a-secret-of-thirty-two-bytes-or-more"
	})
	var compose composeFile
	require.NoError(t, yaml.Unmarshal([]byte(text), &compose))

	nodes := 0
	for name, svc := range compose.Services {
		if svc.Image != "parley:latest" {
			continue
		}
		nodes++
		t.Run(name, func(t *testing.T) {
			require.NotEmpty(t, svc.Command)
			require.Equal(t, "serve", svc.Command[0])
			for key, value := range svc.Environment {
				require.True(t, strings.HasPrefix(key, "PARLEY_"), "%s is no PARLEY_* variable", key)
				flagName := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(key, "PARLEY_")), "_", "-")
				require.NotNil(t, serveCommand(&bytes.Buffer{}).FlagSet.Lookup(flagName), "%s names no flag of parley serve", key)
				t.Setenv(key, value)
			}
			// Under a context cancelled already, a start whose settings pass stops at its first
			// connection attempt without making it.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var out bytes.Buffer
			require.NoError(t, run(ctx, svc.Command, &out, &out), out.String())
			require.Contains(t, out.String(), "parley stopped before it started")
		})
	}
	require.Equal(t, 2, nodes, "compose.yaml runs two Parley nodes")
}
