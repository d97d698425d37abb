package server

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dashboardExprs returns every query of the Grafana dashboard, rows' panels included.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../deploy/grafana/parley.json")
	require.NoError(t, err)
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var dashboard struct {
		Panels []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(data, &dashboard))
	var exprs []string
	var walk func([]panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			for _, target := range p.Targets {
				exprs = append(exprs, target.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dashboard.Panels)
	return exprs
}

var (
	metricName     = regexp.MustCompile(`\bparley_[a-z0-9_]+`)
	metricSelector = regexp.MustCompile(`\b(parley_[a-z0-9_]+)\{([a-z_]+)="([^"]*)"\}`)
)

// Every metric the dashboard's queries name, and every series they select by label, is on a
// running node's /metrics: a node with Redis and webhooks, which has them all.
func TestDashboardQueriesNameMetricsTheServerHas(t *testing.T) {
	t.Parallel()
	exprs := dashboardExprs(t)
	require.Greater(t, len(exprs), 20, "the dashboard has its queries")

	hooks := newHookReceiver(t)
	_, base := newCluster(t, testRedisURL()).node(t, "node-a", hooks.configure)
	resp, err := http.Get(base + "/healthz") // so that the HTTP metrics have a series
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	scrape := string(body)
	families := map[string]bool{}
	for _, line := range strings.Split(scrape, "\n") {
		if fields := strings.Fields(line); len(fields) >= 3 && fields[0] == "#" && fields[1] == "TYPE" {
			families[fields[2]] = true
		}
	}

	for _, expr := range exprs {
		for _, name := range metricName.FindAllString(expr, -1) {
			family := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if trimmed, ok := strings.CutSuffix(name, suffix); ok && families[trimmed] {
					family = trimmed
				}
			}
			require.True(t, families[family], "the dashboard queries %s, which /metrics does not have (in %q)", name, expr)
		}
		for _, m := range metricSelector.FindAllStringSubmatch(expr, -1) {
			series := regexp.MustCompile(regexp.QuoteMeta(m[1]) + `\{[^}]*\b` + regexp.QuoteMeta(m[2]) + `="` + regexp.QuoteMeta(m[3]) + `"`)
			require.Regexp(t, series, scrape, "the dashboard selects %s{%s=%q}, a series /metrics does not have", m[1], m[2], m[3])
		}
	}
}
