package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExportRefusesToOverwrite checks that export refuses to write its
// entity file or a registry version, even with --force, and an existing
// file without --force or --overwrite, naming the path and the fix.
func TestExportRefusesToOverwrite(t *testing.T) {
	dir := initDemo(t)
	mustRun(t, "--repo", dir, "apply")
	labels := filepath.Join(dir, "data", "labels", "trip_outcomes.parquet")
	version := filepath.Join(dir, ".almanac", "registry", "0000000001.registry")
	existing := filepath.Join(t.TempDir(), "train.parquet")
	if err := os.WriteFile(existing, []byte("a file of the user's"), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func(path string) []byte {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	kept := map[string][]byte{labels: read(labels), version: read(version), existing: read(existing)}
	export := func(out string, flags ...string) (int, string) {
		t.Helper()
		code, _, errOut := almanac(t, append([]string{"--repo", dir, "export", "--service", "trip_pricing_v1", "--entities", labels, "--out", out, "--head", "0"}, flags...)...)
		return code, errOut
	}
	for _, tc := range []struct {
		name  string
		out   string
		flags []string
		want  []string
	}{
		{"entity file", labels, []string{"--force"}, []string{labels, "is the entity file", "write the training set to another file"}},
		{"registry version", version, []string{"--force"}, []string{version, "is in the repository's .almanac directory"}},
		{"registry version with --overwrite", version, []string{"--overwrite"}, []string{version, "is in the repository's .almanac directory"}},
		{"existing file", existing, nil, []string{existing, "exists", "pass --force to replace it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, errOut := export(tc.out, tc.flags...)
			if code != exitError {
				t.Errorf("got exit %d, want %d", code, exitError)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("got stderr %q, want it to say %q", errOut, w)
				}
			}
			for path, data := range kept {
				if !bytes.Equal(read(path), data) {
					t.Errorf("%s changed", path)
				}
			}
		})
	}
	mustRun(t, "--repo", dir, "list", "views")
	for _, flag := range []string{"--force", "--overwrite"} {
		if code, errOut := export(existing, flag); code != exitOK {
			t.Errorf("export over an existing file with %s: exit %d, %s", flag, code, errOut)
		}
	}
	if bytes.Equal(read(existing), kept[existing]) {
		t.Errorf("%s was not replaced", existing)
	}
}

// TestExportUnmatched exports from views never materialized: the features
// are named in warnings and in -o json, and --strict fails, writing no
// file and recording no dataset.
func TestExportUnmatched(t *testing.T) {
	dir := initDemo(t)
	mustRun(t, "--repo", dir, "apply")
	labels := filepath.Join(dir, "data", "labels", "trip_outcomes.parquet")
	out := filepath.Join(t.TempDir(), "train.parquet")
	args := []string{"--repo", dir, "export", "--features", "driver_stats:conv_rate,customer_profile:tier", "--entities", labels, "--out", out}

	code, stdout, stderr := almanac(t, append(args, "--strict", "--dataset", "pricing")...)
	if code != exitError || !strings.Contains(stderr, "--strict: 2 features have no value in any row, so nothing was written") {
		t.Errorf("strict export: exit %d, stderr %q; want exit %d saying nothing was written", code, stderr, exitError)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("strict export left %s: %v", out, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(left) > 0 {
		t.Errorf("strict export left %q", left)
	}
	if got := mustRun(t, "--repo", dir, "list", "datasets", "-o", "json"); strings.TrimSpace(got) != "[]" {
		t.Errorf("datasets after a strict export: %s, want none", got)
	}

	code, stdout, stderr = almanac(t, append(args, "-o", "json")...)
	if code != exitOK {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	for _, w := range []string{
		`warning: no row has a value of driver_stats:conv_rate (feature view "driver_stats" has no history; materialize it)`,
		`warning: no row has a value of customer_profile:tier (feature view "customer_profile" has no history; materialize it)`,
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("got stderr %q, want %q", stderr, w)
		}
	}
	var res struct {
		Rows      int64    `json:"rows"`
		Unmatched []string `json:"unmatched_features"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("export -o json: %v\n%s", err, stdout)
	}
	if want := []string{"driver_stats:conv_rate", "customer_profile:tier"}; res.Rows == 0 || !slices.Equal(res.Unmatched, want) {
		t.Errorf("export -o json: %d rows, unmatched %q; want rows and unmatched %q", res.Rows, res.Unmatched, want)
	}

	mustRun(t, "--repo", dir, "materialize-incremental", "now")
	code, stdout, stderr = almanac(t, append(args, "-o", "json", "--force", "--strict")...)
	if code != exitOK || !strings.Contains(stdout, `"unmatched_features": []`) || stderr != "" {
		t.Errorf("export after materializing: exit %d, stderr %q; want exit 0, no unmatched features and no warning\n%s", code, stderr, stdout)
	}
}
