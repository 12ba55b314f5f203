package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeRepo writes files (name -> content) into a new temporary directory.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodConfig = "project: rides\n"

const goodDefs = `kind: Entity
name: driver
join_keys:
  - {name: driver_id, type: int64}
description: A driver.
---
kind: Source
name: trips
format: parquet
path: data/trips/*.parquet
timestamp_field: event_ts
created_timestamp_field: created_ts
---
kind: FeatureView
name: driver_stats
entities: [driver]
source: trips
ttl: 2d
features:
  - {name: conv_rate, type: float64}
  - {name: acc_rate, type: float32}
  - {name: embedding, type: list<float32>}
tags: {team: pricing}
---
kind: FeatureService
name: ranking
features:
  - driver_stats:conv_rate
  - driver_stats
`

func TestLoadGood(t *testing.T) {
	dir := writeRepo(t, map[string]string{"almanac.yaml": goodConfig, "defs.yaml": goodDefs})
	repo, err := Load(context.Background(), dir, LoadOptions{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	d := repo.Defs
	if got, want := len(d.Entities)+len(d.Sources)+len(d.Views)+len(d.Services), 4; got != want {
		t.Fatalf("loaded %d objects, want %d", got, want)
	}
	v := d.View("driver_stats")
	if v == nil {
		t.Fatal("view driver_stats not loaded")
	}
	if got, want := v.TTL, 48*time.Hour; got != want {
		t.Errorf("ttl = %v, want %v", got, want)
	}
	if !v.Online {
		t.Error("online defaults to true, got false")
	}
	if got, want := v.Features[2].Type, ListOf(Float32); got != want {
		t.Errorf("embedding type = %v, want %v", got, want)
	}
	if got, want := v.Pos.String(), "defs.yaml:14"; got != want {
		t.Errorf("view position = %s, want %s", got, want)
	}
	if got, want := repo.Config.OnlineStore.Type, OnlineLocal; got != want {
		t.Errorf("online store type = %q, want default %q", got, want)
	}
}

func TestLoadProblems(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // every problem, in order
	}{
		{
			name:  "yaml syntax error",
			files: map[string]string{"a.yaml": "kind: Entity\nname: [driver\n"},
			want:  []string{`a.yaml:1: invalid YAML: did not find expected ',' or ']'; fix the syntax (indentation, quotes, a missing colon)`},
		},
		{
			name:  "unknown kind",
			files: map[string]string{"a.yaml": "kind: FeatureViw\nname: x\n"},
			want:  []string{`a.yaml:1: unknown kind "FeatureViw"; did you mean "FeatureView"?`},
		},
		{
			name:  "missing kind",
			files: map[string]string{"a.yaml": "name: x\n"},
			want:  []string{`a.yaml:1: definition has no kind; add "kind:" with one of Entity, Source, FeatureView, FeatureService`},
		},
		{
			name:  "dataset kind",
			files: map[string]string{"a.yaml": "kind: Dataset\nname: x\n"},
			want:  []string{`a.yaml:1: datasets are not defined in files; "almanac export --dataset NAME" records them`},
		},
		{
			name:  "unknown field",
			files: map[string]string{"a.yaml": "kind: Entity\nname: driver\njoin_keys: [{name: driver_id, type: int64}]\ndescripton: x\n"},
			want:  []string{`a.yaml:4: entity "driver": unknown field "descripton"; did you mean "description"?`},
		},
		{
			name:  "repeated field",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d\n", "ttl: 2d\nttl: 3d\n", 1)},
			want:  []string{`a.yaml:19: feature view "driver_stats": field "ttl" is given twice (first at line 18); remove one`},
		},
		{
			name:  "unknown nested field",
			files: map[string]string{"a.yaml": "kind: Entity\nname: driver\njoin_keys:\n  - {name: driver_id, typ: int64}\n"},
			want: []string{
				`a.yaml:4: entity "driver": unknown field "typ"; did you mean "type"?`,
				`a.yaml:4: entity "driver": join key "driver_id" has no type; add "type:" with one of ` + strings.Join(TypeNames(), ", "),
			},
		},
		{
			name:  "wrong value type",
			files: map[string]string{"a.yaml": goodDefs + "---\nkind: FeatureView\nname: v2\nentities: [driver]\nsource: trips\nonline: maybe\nfeatures: [{name: f, type: int64}]\n"},
			want:  []string{`a.yaml:35: feature view "v2": field "online": want true or false, got "maybe"`},
		},
		{
			name:  "bad name",
			files: map[string]string{"a.yaml": "kind: Entity\nname: Driver-ID\njoin_keys: [{name: driver_id, type: int64}]\n"},
			want:  []string{`a.yaml:2: entity "Driver-ID": name "Driver-ID" must match [a-z_][a-z0-9_]*; try "driver_id"`},
		},
		{
			name:  "missing name",
			files: map[string]string{"a.yaml": "kind: Entity\njoin_keys: [{name: driver_id, type: int64}]\n"},
			want:  []string{`a.yaml:1: entity: name is required; add "name:" with a name such as "my_entity"`},
		},
		{
			name:  "duplicate name",
			files: map[string]string{"a.yaml": goodDefs, "b.yaml": "kind: Entity\nname: driver\njoin_keys: [{name: driver_id, type: int64}]\n"},
			want:  []string{`b.yaml:1: entity "driver": defined twice (first at a.yaml:1); rename or remove one`},
		},
		{
			name:  "unknown type",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "type: float32}", "type: float}", 1)},
			want:  []string{`a.yaml:21: feature view "driver_stats": feature "acc_rate": unknown type "float"; did you mean "float32"?`},
		},
		{
			name:  "bad list type",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "list<float32>", "list<vector>", 1)},
			want:  []string{`a.yaml:22: feature view "driver_stats": feature "embedding": unknown type "list<vector>"; did you mean "list<int32>"?`},
		},
		{
			name:  "join key type",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "{name: driver_id, type: int64}", "{name: driver_id, type: float64}", 1)},
			want:  []string{`a.yaml:4: entity "driver": join key "driver_id": type float64 cannot be a join key; use int32, int64, string or bytes`},
		},
		{
			name:  "unknown entity",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "entities: [driver]", "entities: [drivers]", 1)},
			want:  []string{`a.yaml:16: feature view "driver_stats": entity "drivers" not found; did you mean "driver"?`},
		},
		{
			name:  "unknown source",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "source: trips", "source: trip", 1)},
			want:  []string{`a.yaml:17: feature view "driver_stats": source "trip" not found; did you mean "trips"?`},
		},
		{
			name:  "unknown view in service",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "  - driver_stats\n", "  - driver_stat\n", 1)},
			want:  []string{`a.yaml:29: feature service "ranking": feature view "driver_stat" not found; did you mean "driver_stats"?`},
		},
		{
			name:  "unknown feature in service",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "driver_stats:conv_rate", "driver_stats:conv_rat", 1)},
			want:  []string{`a.yaml:28: feature service "ranking": feature view "driver_stats" has no feature "conv_rat"; did you mean "conv_rate"?`},
		},
		{
			name:  "bad feature reference",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "driver_stats:conv_rate", "driver_stats:", 1)},
			want:  []string{`a.yaml:28: feature service "ranking": field "features[0]": want a single value, got a mapping`},
		},
		{
			name:  "bad ttl",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d", "ttl: 2 days", 1)},
			want:  []string{`a.yaml:18: feature view "driver_stats": ttl: bad duration "2 days": write a duration such as 30m, 24h or 7d, or remove it so values never expire`},
		},
		{
			name:  "negative ttl",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d", "ttl: -5m", 1)},
			want:  []string{`a.yaml:18: feature view "driver_stats": ttl: bad duration "-5m": write a duration such as 30m, 24h or 7d, or remove it so values never expire`},
		},
		{
			name:  "ttl that wraps around",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d", "ttl: 213504d", 1)},
			want:  []string{`a.yaml:18: feature view "driver_stats": ttl 213504d is longer than 36500d (100 years), the longest TTL; shorten it, or remove it so values never expire`},
		},
		{
			name:  "ttl that turns negative",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d", "ttl: 106752d", 1)},
			want:  []string{`a.yaml:18: feature view "driver_stats": ttl 106752d is longer than 36500d (100 years), the longest TTL; shorten it, or remove it so values never expire`},
		},
		{
			name:  "ttl over 100 years",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d", "ttl: 5215w", 1)},
			want:  []string{`a.yaml:18: feature view "driver_stats": ttl 5215w is longer than 36500d (100 years), the longest TTL; shorten it, or remove it so values never expire`},
		},
		{
			name:  "bad stale_retention",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d\n", "ttl: 2d\nstale_retention: 2 days\n", 1)},
			want:  []string{`a.yaml:19: feature view "driver_stats": stale_retention: bad duration "2 days": write a duration such as 30m, 24h or 7d, or remove it to keep stale values as long as the ttl`},
		},
		{
			name:  "negative stale_retention",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d\n", "ttl: 2d\nstale_retention: -1h\n", 1)},
			want:  []string{`a.yaml:19: feature view "driver_stats": stale_retention: bad duration "-1h": write a duration such as 30m, 24h or 7d, or remove it to keep stale values as long as the ttl`},
		},
		{
			name:  "stale_retention over 100 years",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d\n", "ttl: 2d\nstale_retention: 36501d\n", 1)},
			want:  []string{`a.yaml:19: feature view "driver_stats": stale_retention 36501d is longer than 36500d (100 years), the longest stale retention; shorten it, or remove it to keep stale values as long as the ttl`},
		},
		{
			name:  "stale_retention that wraps around",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d\n", "ttl: 2d\nstale_retention: 213504d\n", 1)},
			want:  []string{`a.yaml:19: feature view "driver_stats": stale_retention 213504d is longer than 36500d (100 years), the longest stale retention; shorten it, or remove it to keep stale values as long as the ttl`},
		},
		{
			name:  "stale_retention without ttl",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d\n", "stale_retention: 1d\n", 1)},
			want:  []string{`a.yaml:18: feature view "driver_stats": stale_retention means nothing without a ttl, since values never go stale; add "ttl:" or remove "stale_retention:"`},
		},
		{
			name:  "stale_retention 0 with ttl 0",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d\n", "ttl: 0\nstale_retention: 0\n", 1)},
			want:  []string{`a.yaml:19: feature view "driver_stats": stale_retention means nothing without a ttl, since values never go stale; add "ttl:" or remove "stale_retention:"`},
		},
		{
			name:  "stale_retention beside a bad ttl",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "ttl: 2d\n", "ttl: 2 days\nstale_retention: 1d\n", 1)},
			want:  []string{`a.yaml:18: feature view "driver_stats": ttl: bad duration "2 days": write a duration such as 30m, 24h or 7d, or remove it so values never expire`},
		},
		{
			name:  "duplicate feature",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "name: acc_rate", "name: conv_rate", 1)},
			want:  []string{`a.yaml:21: feature view "driver_stats": feature "conv_rate" is listed twice; remove or rename one`},
		},
		{
			name:  "feature shadows join key",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "name: acc_rate", "name: driver_id", 1)},
			want:  []string{`a.yaml:21: feature view "driver_stats": feature "driver_id" has the name of a join key or the timestamp; rename the feature`},
		},
		{
			name:  "unknown format",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "format: parquet", "format: parquett", 1)},
			want:  []string{`a.yaml:9: source "trips": unknown format "parquett"; did you mean "parquet"?`},
		},
		{
			name:  "unknown format, nothing near",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "format: parquet", "format: kafka", 1)},
			want:  []string{`a.yaml:9: source "trips": unknown format "kafka"; use one of parquet, csv, push`},
		},
		{
			name:  "missing format",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "format: parquet\n", "", 1)},
			want:  []string{`a.yaml:7: source "trips": format is required; add "format:" with one of parquet, csv, push`},
		},
		{
			name:  "push source with a path",
			files: map[string]string{"a.yaml": "kind: Source\nname: live\nformat: push\npath: data/*.parquet\ntimestamp_field: ts\nschema:\n  - {name: ts, type: timestamp}\n"},
			want:  []string{`a.yaml:4: source "live": a push source has no path; remove "path:"`},
		},
		{
			name:  "file source without path",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "path: data/trips/*.parquet\n", "", 1)},
			want:  []string{`a.yaml:7: source "trips": a parquet source needs a path; add "path:" with a file or glob such as data/trips/*.parquet`},
		},
		{
			name:  "push source without schema",
			files: map[string]string{"a.yaml": "kind: Source\nname: live\nformat: push\ntimestamp_field: ts\n"},
			want:  []string{`a.yaml:1: source "live": a push source needs a schema; add "schema:" listing its columns with name and type`},
		},
		{
			name:  "push source with a created time",
			files: map[string]string{"a.yaml": "kind: Source\nname: live\nformat: push\ntimestamp_field: ts\ncreated_timestamp_field: cts\nschema:\n  - {name: ts, type: timestamp}\n  - {name: cts, type: timestamp}\n"},
			want:  []string{`a.yaml:5: source "live": a push source orders rows of one event time by arrival (the later push wins), not by a created time; remove "created_timestamp_field:"`},
		},
		{
			name: "push source schema lacks a join key",
			files: map[string]string{"a.yaml": goodDefs + `---
kind: Source
name: live
format: push
timestamp_field: ts
schema:
  - {name: ts, type: timestamp}
  - {name: lat, type: float64}
  - {name: status, type: string}
---
kind: FeatureView
name: location
entities: [driver]
source: live
features:
  - {name: lat, type: float64}
  - {name: status, type: int64}
`},
			want: []string{
				`a.yaml:42: feature view "location": source "live" schema has no column "driver_id" for join key`,
				`a.yaml:46: feature view "location": source "live" schema column "status" is string, which cannot hold feature int64; change the type or cast the column`,
			},
		},
		{
			name: "sql over a push source",
			files: map[string]string{"a.yaml": goodDefs + `---
kind: Source
name: live
format: push
timestamp_field: ts
schema:
  - {name: driver_id, type: int64}
  - {name: ts, type: timestamp}
  - {name: lat, type: float64}
---
kind: FeatureView
name: location
entities: [driver]
source: live
sql: SELECT driver_id, ts, lat * 2 AS lat FROM source
features:
  - {name: lat, type: float64}
`},
			want: []string{`a.yaml:44: feature view "location": a view over push source "live" cannot have sql: pushed rows are stored as they arrive; compute the features before pushing, or remove sql`},
		},
		{
			name: "monitoring and expectations out of range",
			files: map[string]string{"a.yaml": strings.Replace(goodDefs, "tags: {team: pricing}\n", `tags: {team: pricing}
monitoring:
  psi_warn: 0.5
  psi_drift: 0.3
  features:
    conv_rat: {psi_drift: 0.4}
expect:
  features:
    conv_rate: {min: 1, max: 0, max_null_fraction: 2}
    acc_rate: {allowed_values: ["0.5"]}
    nope: {min: 0}
`, 1) + "logging:\n  sample_rate: 1.5\nmonitoring:\n  features:\n    driver_stats:acc_rat: {psi_drift: 0.3}\n"},
			want: []string{
				`a.yaml:25: feature view "driver_stats": psi_warn 0.5 is above psi_drift 0.3; the warning level must not exceed the drift level`,
				`a.yaml:28: feature view "driver_stats": monitoring of unknown feature "conv_rat"; did you mean "conv_rate"?`,
				`a.yaml:31: feature view "driver_stats": min 1 is above max 0`,
				`a.yaml:31: feature view "driver_stats": max_null_fraction must be between 0 and 1, such as 0.05`,
				`a.yaml:32: feature view "driver_stats": allowed_values apply to string, bool and integer features; "acc_rate" is float32`,
				`a.yaml:33: feature view "driver_stats": expectation for unknown feature "nope"; use one of conv_rate, acc_rate, embedding`,
				`a.yaml:41: feature service "ranking": sample_rate must be between 0 and 1 (0.1 logs one lookup in ten)`,
				`a.yaml:44: feature service "ranking": monitoring of "driver_stats:acc_rat", which the service does not select; did you mean "driver_stats:acc_rate"?`,
			},
		},
		{
			name:  "missing source and entities",
			files: map[string]string{"a.yaml": "kind: FeatureView\nname: v\nfeatures: [{name: f, type: int64}]\n"},
			want: []string{
				`a.yaml:1: feature view "v": no entities; add "entities: [NAME]" naming the entities the features describe`,
				`a.yaml:1: feature view "v": source is required; add "source:" naming the source the features are computed from`,
			},
		},
		{
			name:  "empty repository",
			files: map[string]string{"notes.yaml": "# nothing yet\n"},
			want:  []string{`almanac.yaml: the repository has no definitions; add a file such as features.yaml with documents of kind Entity, Source, FeatureView, FeatureService`},
		},
		{
			name:  "config without project",
			files: map[string]string{"almanac.yaml": "online_store: {type: local}\n", "a.yaml": goodDefs},
			want:  []string{`almanac.yaml:1: project is required; add a line such as "project: ` + "%DIR%" + `"`},
		},
		{
			name:  "config unknown online store",
			files: map[string]string{"almanac.yaml": "project: rides\nonline_store:\n  type: dynamo\n", "a.yaml": goodDefs},
			want:  []string{`almanac.yaml:3: online_store.type "dynamo" is not known; use "local" or "redis"`},
		},
		{
			name:  "config unknown field",
			files: map[string]string{"almanac.yaml": "project: rides\nonline_stor: {type: redis}\n", "a.yaml": goodDefs},
			want:  []string{`almanac.yaml:2: unknown field "online_stor"; did you mean "online_store"?`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := tc.files["almanac.yaml"]; !ok {
				tc.files["almanac.yaml"] = goodConfig
			}
			dir := writeRepo(t, tc.files)
			_, err := Load(context.Background(), dir, LoadOptions{Getenv: func(string) string { return "" }})
			probs, ok := errors.AsType[Problems](err)
			if !ok {
				t.Fatalf("Load error = %v, want Problems", err)
			}
			got := strings.Split(probs.Error(), "\n")
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = strings.ReplaceAll(w, "%DIR%", SuggestName(filepath.Base(dir)))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("problems:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
			}
		})
	}
}

// TestLoadTenMistakes checks that every mistake of a repository is reported
// in one run, each with its file and line.
func TestLoadTenMistakes(t *testing.T) {
	bad := `kind: Entity
name: Driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Entiti
name: x
---
kind: Source
name: trips
format: parket
path: data/*.parquet
timestamp_field: event_ts
---
kind: FeatureView
name: stats
entities: [drivr]
source: trip
ttl: forever
colour: blue
features:
  - {name: a, type: float}
  - {name: a, type: int64}
---
kind: FeatureService
name: svc
features: [nope:x]
`
	dir := writeRepo(t, map[string]string{"almanac.yaml": goodConfig, "bad.yaml": bad})
	_, err := Load(context.Background(), dir, LoadOptions{})
	probs, ok := errors.AsType[Problems](err)
	if !ok {
		t.Fatalf("Load error = %v, want Problems", err)
	}
	if got, want := len(probs), 10; got != want {
		t.Fatalf("got %d problems, want %d:\n%v", got, want, probs)
	}
	for _, p := range probs {
		if p.Pos.File != "bad.yaml" || p.Pos.Line == 0 {
			t.Errorf("problem without file and line: %s", p)
		}
	}
}

func TestConfigEnvOverrides(t *testing.T) {
	dir := writeRepo(t, map[string]string{"almanac.yaml": "project: rides\nonline_store:\n  type: redis\n  addr: 10.0.0.1:6379\n"})
	env := map[string]string{
		"ALMANAC_ONLINE_STORE_ADDR":  "127.0.0.1:7000",
		"ALMANAC_ONLINE_STORE_ADDRS": "127.0.0.1:7001,127.0.0.1:7002",
		"ALMANAC_SERVING_GRPC_ADDR":  "0.0.0.0:9000",
	}
	cfg, err := LoadConfig(dir, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"online_store.addr", cfg.OnlineStore.Addr, "127.0.0.1:7000"},
		{"online_store.addrs", strings.Join(cfg.OnlineStore.Addrs, ","), "127.0.0.1:7001,127.0.0.1:7002"},
		{"serving.grpc_addr", cfg.Serving.GRPCAddr, "0.0.0.0:9000"},
		{"serving.http_addr", cfg.Serving.HTTPAddr, "127.0.0.1:8080"},
		{"online_store.type", cfg.OnlineStore.Type, "redis"},
		{"registry", cfg.Abs(cfg.Registry), filepath.Join(dir, ".almanac/registry")},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestLoadNoRepository(t *testing.T) {
	_, err := Load(context.Background(), t.TempDir(), LoadOptions{})
	if !errors.Is(err, ErrNoRepository) {
		t.Fatalf("Load of an empty directory: %v, want ErrNoRepository", err)
	}
}

// nameDefs holds a definition of every kind, each name a placeholder.
const nameDefs = `kind: Entity
name: ENTITY
join_keys: [{name: KEY, type: int64}]
---
kind: Source
name: SOURCE
format: push
timestamp_field: ts
schema: [{name: KEY, type: int64}, {name: ts, type: timestamp}, {name: FEATURE, type: float64}, {name: COLUMN, type: string}]
---
kind: FeatureView
name: VIEW
entities: [ENTITY]
source: SOURCE
features: [{name: FEATURE, type: float64}]
---
kind: FeatureService
name: SERVICE
features: [VIEW]
`

// TestLoadNameLength checks that every kind of name is bounded: names of
// MaxNameLength characters load, a longer one is a problem at each line
// defining it that says the limit and quotes a bounded part of the name.
func TestLoadNameLength(t *testing.T) {
	placeholders := []string{"ENTITY", "KEY", "SOURCE", "COLUMN", "VIEW", "FEATURE", "SERVICE"}
	load := func(t *testing.T, long string, length int) error {
		var pairs []string
		for _, p := range placeholders {
			name := strings.ToLower(p) + "_"
			if p == long {
				name += strings.Repeat("n", length-len(name))
			}
			pairs = append(pairs, p, name)
		}
		dir := writeRepo(t, map[string]string{"almanac.yaml": goodConfig, "a.yaml": strings.NewReplacer(pairs...).Replace(nameDefs)})
		_, err := Load(t.Context(), dir, LoadOptions{Getenv: func(string) string { return "" }})
		return err
	}
	for _, tc := range []struct {
		name  string
		lines []int // where the name is defined
	}{
		{"ENTITY", []int{2}},
		{"KEY", []int{3, 9}}, // the join key and the push source's column
		{"SOURCE", []int{6}},
		{"COLUMN", []int{9}},
		{"VIEW", []int{12}},
		{"FEATURE", []int{9, 15}},
		{"SERVICE", []int{18}},
	} {
		t.Run(strings.ToLower(tc.name), func(t *testing.T) {
			if err := load(t, tc.name, MaxNameLength); err != nil {
				t.Fatalf("a name of %d characters: %v", MaxNameLength, err)
			}
			err := load(t, tc.name, 300)
			probs, ok := errors.AsType[Problems](err)
			if !ok || len(probs) != len(tc.lines) {
				t.Fatalf("a name of 300 characters: %v; want problems at lines %v", err, tc.lines)
			}
			for i, p := range probs {
				got := p.String()
				if p.Pos.Line != tc.lines[i] || !strings.Contains(got, "is 300 characters long; names have at most 63, try") || len(got) > 400 {
					t.Errorf("problem %q (%d bytes), want at line %d the limit, under 400 bytes", got, len(got), tc.lines[i])
				}
			}
		})
	}
}

// TestLoadQuotesBoundedInput checks that problems quote at most a bounded
// part of what a definition says, however long it is.
func TestLoadQuotesBoundedInput(t *testing.T) {
	// YAML keys have at most 1024 characters; values have no limit.
	defs := strings.NewReplacer("X", strings.Repeat("x", 5000), "K", strings.Repeat("k", 1000)).Replace(`kind: Entity
name: driver
join_keys: [{name: driver_id, type: X}]
---
kind: X
---
kind: Source
name: trips
format: X
path: data/*.parquet
timestamp_field: event_ts
K: 1
---
kind: FeatureView
name: stats
entities: [X]
source: X
ttl: X
features: [{name: f, type: int64}]
monitoring: {features: {K: {psi_drift: 0.3}}}
expect: {features: {K: {min: 0}}}
---
kind: FeatureService
name: svc
features: ["X:f", "stats:X"]
`)
	dir := writeRepo(t, map[string]string{"almanac.yaml": goodConfig, "a.yaml": defs})
	_, err := Load(t.Context(), dir, LoadOptions{Getenv: func(string) string { return "" }})
	probs, ok := errors.AsType[Problems](err)
	if !ok || len(probs) < 10 {
		t.Fatalf("Load: %v; want at least 10 problems", err)
	}
	for _, p := range probs {
		if got := p.String(); len(got) > 400 {
			t.Errorf("problem of %d bytes: %.300s…", len(got), got)
		}
	}
}

func TestStaleRetention(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ttl       string // the view's ttl and stale_retention lines, in place of "ttl: 2d"
		ttlWant   time.Duration
		want      time.Duration
		described string // stale_retention as describe prints it
	}{
		{name: "default: the ttl", ttl: "ttl: 2d", ttlWant: 48 * time.Hour, want: 48 * time.Hour},
		{name: "shorter", ttl: "ttl: 2d\nstale_retention: 6h", ttlWant: 48 * time.Hour, want: 6 * time.Hour, described: "6h"},
		{name: "longer", ttl: "ttl: 2h\nstale_retention: 7d", ttlWant: 2 * time.Hour, want: 7 * 24 * time.Hour, described: "7d"},
		{name: "zero: removed at the ttl", ttl: "ttl: 2d\nstale_retention: 0", ttlWant: 48 * time.Hour, want: 0, described: "0"},
		{name: "the ttl written out", ttl: "ttl: 2d\nstale_retention: 48h", ttlWant: 48 * time.Hour, want: 48 * time.Hour},
		{name: "no ttl", ttl: "", want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defs := loadDefs(t, strings.Replace(goodDefs, "ttl: 2d\n", tc.ttl+"\n", 1))
			v := defs.View("driver_stats")
			if got, want := v.TTL, tc.ttlWant; got != want {
				t.Errorf("ttl = %v, want %v", got, want)
			}
			if got, want := v.StaleRetention, tc.want; got != want {
				t.Errorf("stale retention = %v, want %v", got, want)
			}
			back, err := DefinitionsFromProto(defs.ToProto("rides"))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := back.View("driver_stats").StaleRetention, tc.want; got != want {
				t.Errorf("stale retention after a proto round trip = %v, want %v", got, want)
			}
			raw, err := defs.Describe(KindFeatureView, "driver_stats")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := raw.(rawView).StaleRetention, tc.described; got != want {
				t.Errorf("described stale_retention = %q, want %q", got, want)
			}
		})
	}
	// A registry stored before stale_retention existed keeps stale values
	// as long as the ttl.
	old := loadDefs(t, goodDefs).ToProto("rides")
	old.GetFeatureViews()[0].StaleRetention = nil
	back, err := DefinitionsFromProto(old)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.View("driver_stats").StaleRetention, 48*time.Hour; got != want {
		t.Errorf("stale retention of a registry without it = %v, want %v", got, want)
	}
}
