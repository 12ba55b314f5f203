package drift

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

// ProfilePath is where the profile of a dataset's training set is kept: the
// offline store's place for it.
func ProfilePath(store *offline.Store, dataset string) string { return store.ProfilePath(dataset) }

// ReportPath is where the last drift report of a dataset is kept for the
// server's metrics: the offline store's place for it.
func ReportPath(store *offline.Store, dataset string) string { return store.DriftReportPath(dataset) }

// LogWindow returns a relation reading the lookups of service that the
// server logged in [start, end), and how many files hold them. Without files
// the relation is empty but has the expected columns absent, so callers
// check files first.
func LogWindow(store *offline.Store, service string, start, end time.Time) (string, int, error) {
	logged, err := store.LogFiles(service, start, end)
	if err != nil || len(logged) == 0 {
		return "", 0, err
	}
	files := make([]string, len(logged))
	for i, f := range logged {
		files[i] = f.Path
	}
	return fmt.Sprintf("(SELECT * FROM read_parquet(%s, union_by_name = true, hive_partitioning = false) WHERE request_time >= %s AND request_time < %s)",
		duck.QuoteList(files), timeLit(start), timeLit(end)), len(files), nil
}

func timeLit(t time.Time) string {
	return "TIMESTAMPTZ " + duck.Quote(t.UTC().Format("2006-01-02 15:04:05.000000+00"))
}

// FileRelation returns a relation reading a Parquet or CSV file.
func FileRelation(path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".parquet":
		return fmt.Sprintf("read_parquet(%s, hive_partitioning = false)", duck.Quote(path)), nil
	case ".csv":
		return fmt.Sprintf("read_csv(%s, header = true, hive_partitioning = false)", duck.Quote(path)), nil
	}
	return "", fmt.Errorf("%s: unknown format %q; use a .parquet or .csv file", path, filepath.Ext(path))
}

// MatchColumns finds, for each feature of baseline, its column among the
// relation's: view__feature first, then the bare feature name.
func MatchColumns(ctx context.Context, db *duck.DB, relation string, baseline *Profile) (map[string]string, error) {
	cols, err := duck.Describe(ctx, db, "SELECT * FROM "+relation)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	out := map[string]string{}
	for _, f := range baseline.Features {
		view, feature, _ := strings.Cut(f.Feature, ":")
		for _, candidate := range []string{registry.FullName(view, feature), feature} {
			if slices.Contains(names, candidate) {
				out[f.Feature] = candidate
				break
			}
		}
	}
	return out, nil
}

// DatasetColumns are the profilable feature columns of an exported training
// set: features are "view:feature" in column order, columns the output's
// column names, whose last len(features) are the features.
func DatasetColumns(defs *registry.Definitions, features, columns []string) []Column {
	var out []Column
	first := len(columns) - len(features)
	for i, ref := range features {
		view, name, _ := strings.Cut(ref, ":")
		v := defs.View(view)
		if v == nil {
			continue
		}
		f, ok := v.Feature(name)
		if !ok {
			continue
		}
		if _, ok := KindOf(f.Type); ok {
			out = append(out, Column{Feature: ref, Name: columns[first+i], Type: f.Type})
		}
	}
	return out
}

// RelationColumns are the profilable columns of a relation, each taken as a
// feature of its own name.
func RelationColumns(ctx context.Context, db *duck.DB, relation string) ([]Column, error) {
	cols, err := duck.Describe(ctx, db, "SELECT * FROM "+relation)
	if err != nil {
		return nil, err
	}
	var out []Column
	for _, c := range cols {
		if _, ok := KindOf(c.Type); ok {
			out = append(out, Column{Feature: c.Name, Name: c.Name, Type: c.Type})
		}
	}
	return out, nil
}

// ServiceColumns are the profilable features of a feature service as the
// feature log names them: view__feature.
func ServiceColumns(defs *registry.Definitions, s *registry.FeatureService) ([]Column, error) {
	sel, err := defs.Resolve(s.Features)
	if err != nil {
		return nil, fmt.Errorf("feature service %q: %w", s.Name, err)
	}
	var out []Column
	for _, f := range sel.Features {
		if _, ok := KindOf(f.Field.Type); ok {
			out = append(out, Column{Feature: f.Ref, Name: f.FullName, Type: f.Field.Type})
		}
	}
	return out, nil
}
