package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/drift"
	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/server/ui"
)

// dataset is the training set the fixture records: driver_ranking_v1's
// features for four labeled entity rows.
const dataset = "ranking_train"

// start runs the fixture server, records the dataset with its profile and
// a drift check of it, and serves the UI over the server's definitions.
func start(t *testing.T) string {
	t.Helper()
	env := servertest.Start(t, servertest.Options{})
	ctx := t.Context()
	ts := func(d time.Duration) string {
		return duck.Quote(env.Now.Add(d).UTC().Format("2006-01-02 15:04:05Z07:00")) + "::TIMESTAMPTZ"
	}
	entities := filepath.Join(env.Dir, "labels.parquet")
	q := fmt.Sprintf(`COPY (SELECT * FROM (VALUES
	(1001::BIGINT, %[1]s, true, 4.5::DOUBLE),
	(1002, %[1]s, false, 0.0),
	(1004, %[2]s, true, 2.0),
	(1005, %[2]s, false, 0.0)
) t(driver_id, event_timestamp, tipped, tip_amount)) TO %[3]s (FORMAT parquet)`, ts(-10*time.Minute), ts(-20*time.Minute), duck.Quote(entities))
	if _, err := env.DB.ExecContext(ctx, q); err != nil {
		t.Fatal(err)
	}
	defs := env.Server.Definitions()
	svc := defs.Service(servertest.DriverRanking)
	out := filepath.Join(env.Dir, "train.parquet")
	res, err := env.Offline.Export(ctx, env.DB, offline.ExportRequest{Defs: defs, Refs: svc.Features, EntityPath: entities, OutPath: out})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := drift.FileRelation(out)
	if err != nil {
		t.Fatal(err)
	}
	profile, err := drift.Compute(ctx, env.DB, rel, drift.DatasetColumns(defs, res.Features, res.Columns), "dataset "+dataset)
	if err != nil {
		t.Fatal(err)
	}
	if err := profile.Save(drift.ProfilePath(env.Offline, dataset)); err != nil {
		t.Fatal(err)
	}
	ds := &registry.Dataset{Name: dataset, FeatureService: svc.Name, Features: res.Features, EntityPath: entities, OutputPath: out,
		RowCount: res.Rows, Start: res.Start, End: res.End, CreatedAt: env.Now}
	if _, err := registry.RecordDataset(ctx, env.Registry, ds, false); err != nil {
		t.Fatal(err)
	}
	if err := env.Server.Reload(); err != nil {
		t.Fatal(err)
	}
	report, err := drift.CheckDataset(ctx, env.DB, env.Offline, env.Server.Definitions(), dataset, "", rel, "the training set itself")
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Save(drift.ReportPath(env.Offline, dataset)); err != nil {
		t.Fatal(err)
	}
	return serve(t, env)
}

// serve serves the UI of env's server and returns its URL.
func serve(t *testing.T, env *servertest.Env) string {
	t.Helper()
	hs := httptest.NewServer(ui.New(ui.Options{
		Project: servertest.Project, OnlineStore: "local", Served: env.Server.Served,
		Registry: env.Registry, Offline: env.Offline, Now: env.Clock.Now,
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// checkPage fetches path and checks its status and that the body holds
// every one of want.
func checkPage(t *testing.T, base, path string, status int, want ...string) string {
	t.Helper()
	got, body := get(t, base+path)
	if got != status {
		t.Fatalf("GET %s: status %d, want %d\n%s", path, got, status, body)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("GET %s: no %q in\n%s", path, w, body)
		}
	}
	return body
}

func TestPages(t *testing.T) {
	base := start(t)
	tests := []struct {
		name, path string
		want       []string
	}{
		{"overview", "/", []string{
			"<title>Overview · fixture · Almanac</title>", `href="/registry">2</a>`, "dataset ranking_train recorded", "local",
			"<b>6</b> feature views", "<b>4</b> feature services", "<b>2</b> entities", "<b>5</b> sources", "<b>1</b> dataset",
			`href="/views/driver_stats"`, "30m ago", // driver_stats' newest row: driver 1002's at T-30m
			"nothing materialized yet", // driver_location: a push source, nothing pushed
		}},
		{"views", "/views", []string{"driver_stats", "driver_profile", "driver_embedding", "customer_stats", "driver_location", "driver_history", "<td>2h</td>"}},
		{"view", "/views/driver_stats", []string{
			"<code>driver_id</code> int64", `href="/sources#driver_stats"`, "event time <code>event_ts</code>", "yes: the latest values are served",
			"<code>conv_rate</code></td><td>float64</td>", "<code>city</code></td><td>string</td>",
			`href="/services/driver_ranking_v1"`, `href="/services/pricing_v1"`, `href="/services/dispatch_v1"`,
			"6 in ", "Last run", "Partitions (",
		}},
		{"offline view", "/views/driver_history", []string{"no: training sets only"}},
		{"view without history", "/views/driver_location", []string{"Nothing was materialized into this view yet"}},
		{"services", "/services", []string{"driver_ranking_v1", "driver_profile_v1", "pricing_v1", "dispatch_v1", `href="/datasets/ranking_train"`}},
		{"service", "/services/driver_ranking_v1", []string{
			"served by the feature server", "10% of lookups", "none logged yet",
			"<code>embedding</code></td><td>list&lt;float32&gt;", `href="/datasets/ranking_train"`,
			"the training set itself, 4 rows", "no drift", "driver_stats:conv_rate",
			`<span class="badge insufficient_data">insufficient_data</span>`, // 4 rows are below min_rows
		}},
		{"service without dataset", "/services/pricing_v1", []string{"No dataset was exported from this service", "No drift check is stored"}},
		{"entities", "/entities", []string{`id="driver"`, "<code>customer_id</code> int64", `href="/views/customer_stats"`}},
		{"sources", "/sources", []string{`id="driver_stats"`, "data/driver_stats.parquet", "<code>created_ts</code>", "pushed", "schema"}},
		{"datasets", "/datasets", []string{`href="/datasets/ranking_train"`, `href="/services/driver_ranking_v1"`, "<td class=\"num\">4</td>"}},
		{"dataset", "/datasets/ranking_train", []string{
			"train.parquet", "labels.parquet", "Entity rows</dt><dd>4,",
			"<code>driver_id</code></td><td>join key", "<code>event_timestamp</code></td><td>event time",
			"<code>tipped</code></td><td><b>label</b>", "<code>tip_amount</code></td><td><b>label</b>",
			"4 rows.", "<code>paris</code> 25%", "not profiled", // driver_embedding:embedding is a list
		}},
		{"registry", "/registry", []string{"17 to add", "dataset ranking_train recorded", `<span class="badge ok">served</span>`}},
		{"stylesheet", "/static/style.css", []string{"nav a.brand"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPage(t, base, tt.path, http.StatusOK, tt.want...)
		})
	}
}

func TestNotFound(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	base := serve(t, env)
	tests := []struct {
		name, path, want string
	}{
		{"view, close name", "/views/driver_stat", "Registry version 1 has no feature view &#34;driver_stat&#34;; did you mean &#34;driver_stats&#34;?"},
		{"service", "/services/ranking", "Registry version 1 has no feature service &#34;ranking&#34;"},
		{"dataset", "/datasets/driver_stats", "Registry version 1 has no dataset &#34;driver_stats&#34;"},
		{"path", "/nowhere", "There is no page at /nowhere."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPage(t, base, tt.path, http.StatusNotFound, tt.want, "<title>Not found · fixture · Almanac</title>")
		})
	}
}

// TestNewVersion applies a view whose texts hold markup: the handler shows
// it once the server reloads, escaped, with its broken expectations once
// materialized.
func TestNewVersion(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	base := serve(t, env)
	checkPage(t, base, "/views/driver_quality", http.StatusNotFound, "no feature view")

	err := servertest.AppendDefinitions(env.Dir, `kind: FeatureView
name: driver_quality
entities: [driver]
source: driver_stats
description: "Rates <script>alert(1)</script> checked"
tags: {owner: "<b>quality</b>"}
sql: SELECT driver_id, event_ts, conv_rate FROM source WHERE conv_rate < 2
features:
  - {name: conv_rate, type: float64, description: "<img src=x onerror=alert(2)>"}
expect:
  features:
    conv_rate: {max: 0.5}
`)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := env.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.Materialize(ctx); err != nil {
		t.Fatal(err)
	}
	checkPage(t, base, "/views/driver_quality", http.StatusNotFound) // not reloaded yet
	if err := env.Server.Reload(); err != nil {
		t.Fatal(err)
	}
	body := checkPage(t, base, "/views/driver_quality", http.StatusOK,
		"registry version 2",
		"Rates &lt;script&gt;alert(1)&lt;/script&gt; checked",
		"owner: &lt;b&gt;quality&lt;/b&gt;",
		"&lt;img src=x onerror=alert(2)&gt;",
		"WHERE conv_rate &lt; 2",
		"<td>max 0.5</td>",
		"<td>max</td><td class=\"num\">2</td>", // driver 1001 at 0.91, 1002 at 0.72
	)
	for _, bad := range []string{"<script>alert", "<b>quality", "<img src=x"} {
		if strings.Contains(body, bad) {
			t.Errorf("page holds unescaped %q", bad)
		}
	}
	checkPage(t, base, "/", http.StatusOK, `href="/views/driver_quality">1 broken</a>`, "<b>7</b> feature views")
}
