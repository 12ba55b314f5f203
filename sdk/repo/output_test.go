package repo_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk/repo"
)

// writeEntities writes entity rows of drivers at one time as CSV.
func writeEntities(t *testing.T, path string, at time.Time, drivers ...int64) {
	t.Helper()
	var csv strings.Builder
	csv.WriteString("driver_id,event_timestamp,label\n")
	for _, d := range drivers {
		fmt.Fprintf(&csv, "%d,%s,true\n", d, at.Format(time.RFC3339))
	}
	if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tree returns the digest of every file under root, by path, and the
// target of every symbolic link.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			out[path] = "-> " + target
			return err
		case d.IsDir():
			return nil
		}
		data, err := os.ReadFile(path)
		out[path] = fmt.Sprintf("%x", sha256.Sum256(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExportRefusesToOverwrite checks that Export never writes its own
// entity file or the repository's registry and stores, even with
// Overwrite and through links, and replaces another existing file only
// with Overwrite; a refused or failed export changes no file.
func TestExportRefusesToOverwrite(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	root := t.TempDir()
	dir := filepath.Join(root, "rides")
	if err := servertest.WriteRepo(t.Context(), dir, now); err != nil {
		t.Fatal(err)
	}
	// The registry and the offline store live outside the repository.
	config, err := os.ReadFile(filepath.Join(dir, "almanac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	config = append(config, "registry: ../registry\noffline_store: {path: ../offline}\n"...)
	if err := os.WriteFile(filepath.Join(dir, "almanac.yaml"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Apply(t.Context(), dir, false); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Materialize(t.Context(), now.Add(-servertest.History), now, repo.MaterializeOptions{OfflineOnly: true}); err != nil {
		t.Fatal(err)
	}

	entities := filepath.Join(dir, "entities.csv")
	writeEntities(t, entities, now, 1001, 1002)
	versions, err := filepath.Glob(filepath.Join(root, "registry", "*.registry"))
	if err != nil || len(versions) != 1 {
		t.Fatalf("registry versions %q, %v; want one", versions, err)
	}
	existing := filepath.Join(root, "existing.parquet")
	if err := os.WriteFile(existing, []byte("a file of the user's"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, link := range []struct{ target, name string }{
		{entities, "entities-link.csv"},
		{filepath.Join(root, "registry"), "registry-link"},
		{filepath.Join(dir, ".almanac"), "almanac-link"},
	} {
		if err := os.Symlink(link.target, filepath.Join(root, link.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(entities, filepath.Join(root, "entities-hard.csv")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name      string
		out       string
		overwrite bool
		want      error
		wantText  string
	}{
		{"entity file", entities, true, repo.ErrOutputProtected, "is the entity file"},
		{"entity file by a relative path", filepath.Join(dir, "data", "..", "entities.csv"), true, repo.ErrOutputProtected, "is the entity file"},
		{"entity file by a symbolic link", filepath.Join(root, "entities-link.csv"), true, repo.ErrOutputProtected, "is the entity file"},
		{"entity file by a hard link", filepath.Join(root, "entities-hard.csv"), true, repo.ErrOutputProtected, "is the entity file"},
		{"registry version", versions[0], true, repo.ErrOutputProtected, "is in the registry"},
		{"new file in the registry by a linked directory", filepath.Join(root, "registry-link", "train.parquet"), true, repo.ErrOutputProtected, "is in the registry"},
		{"offline store", filepath.Join(root, "offline", "train.parquet"), true, repo.ErrOutputProtected, "is in the offline store"},
		{"the offline store itself", filepath.Join(root, "offline"), true, nil, "is a directory"},
		{"online store", filepath.Join(dir, ".almanac", "online.db"), true, repo.ErrOutputProtected, ".almanac directory"},
		{"new file in .almanac by a linked directory", filepath.Join(root, "almanac-link", "x", "train.parquet"), true, repo.ErrOutputProtected, ".almanac directory"},
		{"existing file", existing, false, repo.ErrOutputExists, "set Overwrite"},
		{"directory", root, true, nil, "is a directory"},
		{"failed export over an existing file", existing, true, nil, `no event-time column "event_time"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tree(t, root)
			ts := repo.TrainingSet{Features: []string{"driver_stats:conv_rate"}, EntityFile: entities, Overwrite: tc.overwrite}
			if tc.name == "failed export over an existing file" {
				ts.TimestampColumn = "event_time"
			}
			_, err := r.Export(t.Context(), ts, tc.out)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("got error %q, want it to say %q", err, tc.wantText)
			}
			if after := tree(t, root); !maps.Equal(after, before) {
				t.Errorf("files changed: got %d files %v, want %d %v", len(after), slices.Sorted(maps.Keys(after)), len(before), slices.Sorted(maps.Keys(before)))
			}
		})
	}
	if _, err := repo.Open(dir); err != nil {
		t.Fatalf("open the repository after the refused exports: %v", err)
	}

	// With Overwrite the user's file is replaced, leaving nothing else.
	before := tree(t, root)
	if _, err := r.Export(t.Context(), repo.TrainingSet{Features: []string{"driver_stats:conv_rate"}, EntityFile: entities, Overwrite: true}, existing); err != nil {
		t.Fatal(err)
	}
	if got, want := fileRows(t, existing), []string{"1001 true 0.91", "1002 true 0.72"}; !slices.Equal(got, want) {
		t.Errorf("replaced file holds %q, want %q", got, want)
	}
	after := tree(t, root)
	if after[existing] == before[existing] || !slices.Equal(slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before))) {
		t.Errorf("files after the export %v, want those before with %s replaced", slices.Sorted(maps.Keys(after)), existing)
	}
}

// TestExportUnmatched checks that an export lists the features no entity
// row has a value of, with why, and that a strict one then writes
// nothing and records no dataset.
func TestExportUnmatched(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	dir, r := fixture(t, now)
	entities := filepath.Join(dir, "entities.csv")
	out := filepath.Join(dir, "train.parquet")
	features := []string{"driver_stats:conv_rate", "driver_stats:city", "driver_profile:rating_count"}
	export := func(t *testing.T, ts repo.TrainingSet) ([]repo.Unmatched, error) {
		t.Helper()
		ts.Features, ts.EntityFile, ts.Overwrite = features, entities, true
		res, err := r.Export(t.Context(), ts, out)
		if res == nil {
			return nil, err
		}
		return res.Unmatched, err
	}

	writeEntities(t, entities, now, 1001, 1002)
	got, err := export(t, repo.TrainingSet{})
	if err != nil {
		t.Fatal(err)
	}
	want := []repo.Unmatched{
		{View: "driver_stats", Features: []string{"driver_stats:conv_rate", "driver_stats:city"}, Reason: `feature view "driver_stats" has no history; materialize it`},
		{View: "driver_profile", Features: []string{"driver_profile:rating_count"}, Reason: `feature view "driver_profile" has no history; materialize it`},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("unmatched before materializing: got %v, want %v", got, want)
	}
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	_, err = export(t, repo.TrainingSet{Strict: true, Dataset: "ranking_train"})
	if !errors.Is(err, repo.ErrUnmatched) || !strings.Contains(err.Error(), "driver_profile:rating_count (feature view \"driver_profile\" has no history") {
		t.Errorf("strict export: got %v, want ErrUnmatched naming driver_profile:rating_count and why", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("strict export left %s: %v", out, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".train.parquet*")); len(left) > 0 {
		t.Errorf("strict export left %q", left)
	}
	reg, err := registry.OpenStore(r.Config().Abs(r.Config().Registry), registry.StoreOptions{}).Current()
	if err != nil {
		t.Fatal(err)
	}
	if ds := reg.GetDatasets(); len(ds) != 0 {
		t.Errorf("strict export recorded datasets %v", ds)
	}

	if _, err := r.Materialize(t.Context(), now.Add(-servertest.History), now, repo.MaterializeOptions{OfflineOnly: true}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		at      time.Time
		drivers []int64
		want    []string // "view: features: reason substring"
	}{
		{"every feature matched", now, []int64{1001, 1002}, nil},
		{"beyond the ttl", now.Add(24 * time.Hour), []int64{1001, 1002},
			[]string{"driver_stats: [driver_stats:conv_rate driver_stats:city]: within its ttl of 2h"}},
		{"unknown keys", now, []int64{424242}, []string{
			"driver_stats: [driver_stats:conv_rate driver_stats:city]: check their join keys",
			"driver_profile: [driver_profile:rating_count]: check their join keys",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeEntities(t, entities, tc.at, tc.drivers...)
			got, err := export(t, repo.TrainingSet{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got unmatched %v, want %d views", got, len(tc.want))
			}
			for i, u := range got {
				view, rest, _ := strings.Cut(tc.want[i], ": ")
				features, reason, _ := strings.Cut(rest, ": ")
				if u.View != view || fmt.Sprint(u.Features) != features || !strings.Contains(u.Reason, reason) {
					t.Errorf("got unmatched %+v, want %s", u, tc.want[i])
				}
			}
			if _, err := export(t, repo.TrainingSet{Strict: true}); (err != nil) != (len(tc.want) > 0) {
				t.Errorf("strict export: %v", err)
			}
		})
	}
}
