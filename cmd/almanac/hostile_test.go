package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostileSQL are feature view queries that try to run code, write files,
// read files outside the sources or change settings: plan rejects each as
// a problem at the line of the view's sql key, and leaves no file behind.
// $OUT is a directory outside the repository, $REPO the repository.
var hostileSQL = []struct {
	name, sql string
	want      string // in the problem
}{
	{
		name: "copy between selects",
		sql:  "SELECT driver_id, event_ts, fare FROM source; COPY (SELECT 'owned') TO '$OUT/owned.csv'; SELECT * FROM (VALUES ('driver_id','BIGINT'),('event_ts','TIMESTAMP WITH TIME ZONE'),('fare','DOUBLE')) t(column_name, column_type)",
		want: "is not a SELECT statement",
	},
	{name: "second statement", sql: "SELECT driver_id, event_ts, fare FROM source; SELECT 1", want: "has 2 statements"},
	{name: "copy", sql: "COPY (SELECT 'owned') TO '$OUT/owned.csv'", want: "is not a SELECT statement"},
	{name: "copy parquet", sql: "COPY (SELECT 'owned' AS x) TO '$OUT/owned.parquet' (FORMAT parquet)", want: "is not a SELECT statement"},
	{name: "attach", sql: "ATTACH '$OUT/owned.db'", want: "is not a SELECT statement"},
	{name: "attach then select", sql: "ATTACH '$OUT/owned.db' AS o; SELECT driver_id, event_ts, fare FROM source", want: "is not a SELECT statement"},
	{name: "export database", sql: "EXPORT DATABASE '$OUT/export'", want: "is not a SELECT statement"},
	{name: "install", sql: "INSTALL httpfs", want: "is not a SELECT statement"},
	{name: "load", sql: "LOAD httpfs; SELECT driver_id, event_ts, fare FROM source", want: "is not a SELECT statement"},
	{name: "set", sql: "SET enable_external_access = true; SELECT driver_id, event_ts, fare FROM source", want: "is not a SELECT statement"},
	{name: "pragma", sql: "PRAGMA enable_profiling", want: "is not a SELECT statement"},
	{name: "create", sql: "CREATE TABLE owned AS SELECT 1", want: "is not a SELECT statement"},
	{name: "query function", sql: "SELECT * FROM query('COPY (SELECT 1) TO ''$OUT/owned.csv''')", want: "sql does not run"},
	{name: "read_csv outside", sql: "SELECT driver_id, event_ts, fare FROM source, read_csv('$OUT/secret.csv')", want: "Permission Error"},
	{name: "read_csv /etc/passwd", sql: "SELECT driver_id, event_ts, fare FROM source, read_csv('/etc/passwd')", want: "Permission Error"},
	{name: "read_text outside", sql: "SELECT driver_id, event_ts, fare FROM source, read_text('$OUT/secret.csv')", want: "Permission Error"},
	{name: "glob outside", sql: "SELECT driver_id, event_ts, fare FROM source, glob('$OUT/*')", want: "Permission Error"},
	{name: "a repository file that is no source's", sql: "SELECT driver_id, event_ts, fare FROM source, read_text('$REPO/almanac.yaml')", want: "Permission Error"},
	{name: "network", sql: "SELECT driver_id, event_ts, fare FROM read_csv('http://127.0.0.1:9/trips.csv')", want: "Permission Error"},
	{name: "comment only", sql: "-- SELECT driver_id, event_ts, fare FROM source", want: "has no statement"},
}

func TestPlanRejectsHostileSQL(t *testing.T) {
	dir := initDemo(t)
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "secret.csv"), []byte("secret\nhunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const sqlLine = 5
	for _, tc := range hostileSQL {
		t.Run(tc.name, func(t *testing.T) {
			query := strings.NewReplacer("$OUT", out, "$REPO", dir).Replace(tc.sql)
			view := "kind: FeatureView\nname: hostile\nentities: [driver]\nsource: trips\nsql: |\n  " + query + "\nfeatures:\n  - {name: fare, type: float64}\n"
			file := filepath.Join(dir, "hostile.yaml")
			if err := os.WriteFile(file, []byte(view), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(file)
			repoBefore, outBefore := tree(t, dir), tree(t, out)

			code, stdout, stderr := almanac(t, "--repo", dir, "plan")
			if code != exitError {
				t.Fatalf("plan: exit %d, want %d\n%s%s", code, exitError, stdout, stderr)
			}
			for _, want := range []string{fmt.Sprintf("hostile.yaml:%d: feature view \"hostile\": ", sqlLine), tc.want} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if got := tree(t, dir); !slices.Equal(got, repoBefore) {
				t.Errorf("plan changed the repository: %q, was %q", got, repoBefore)
			}
			if got := tree(t, out); !slices.Equal(got, outBefore) {
				t.Errorf("plan wrote outside the repository: %q, was %q", got, outBefore)
			}
		})
	}
}

// tree lists the files and directories below dir.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		paths = append(paths, path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}
