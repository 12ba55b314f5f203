package main

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/output"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk/repo"
)

func newExportCmd(g *globals) *cobra.Command {
	var (
		service, features, entities, out, dataset, tsCol, format string
		fullNames, force, overwrite, strict                      bool
		head                                                     int
	)
	cmd := &cobra.Command{
		Use:   "export (--service S | --features R,...) --entities FILE --out FILE [--force] [--strict]",
		Short: "Export a point-in-time-correct training set to Parquet",
		Long: `Join features to entity rows as of each row's event time and write the result
as Parquet. For every entity row, in order, each feature's value comes from the
row of its view with the same join keys and the greatest event time ts with
event_timestamp - ttl <= ts <= event_timestamp (ties broken by the created
time); null when there is none. The entity rows keep their order and count,
and their other columns (labels) pass through unchanged.

The entity file is Parquet or CSV with every join key the views need and an
event-time column (event_timestamp, or --timestamp-column); times without a
zone are UTC. Feature columns are named by feature; --full-names names them
view__feature, which is required when two selected features share a name.

The file is written under a hidden name beside --out and renamed into place
when complete. An existing --out is replaced only with --force; the entity
file itself and anything in the repository's .almanac directory, registry or
stores never are.

A feature that no entity row has a value of (every row null: its view was
never materialized, or its history holds nothing for these keys and times)
is named in a warning on stderr and under "unmatched_features" with -o json;
--strict makes that an error that writes nothing.

With --dataset, the export is recorded in the registry (features, entity file,
output, row count, time range) for "almanac list datasets", with a statistics
profile of its features that "almanac drift" compares served data with.`,
		Example: `  almanac export --service driver_ranking_v1 --entities labels.parquet --out train.parquet
  almanac export --features driver_stats:conv_rate,driver_trip_activity --entities rows.csv \
      --out train.parquet --dataset ranking_2024_05`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(format, output.Text, output.JSON)
			if err != nil {
				return usageError{err}
			}
			if entities == "" || out == "" {
				return usagef("--entities and --out are required")
			}
			switch {
			case service != "" && features != "":
				return usagef("give --service or --features, not both")
			case service == "" && features == "":
				return usagef("give --service NAME or --features view:feature,...")
			}
			var refs []string
			if features != "" {
				for _, f := range strings.Split(features, ",") {
					refs = append(refs, strings.TrimSpace(f))
				}
			}
			r, err := repo.Open(g.repoDir())
			if err != nil {
				return err
			}
			defer r.Close()
			began := time.Now()
			outPath := absPath(out)
			res, err := r.Export(cmd.Context(), repo.TrainingSet{FeatureService: service, Features: refs, EntityFile: entities,
				TimestampColumn: tsCol, FullNames: fullNames, Dataset: dataset, Overwrite: force || overwrite, Strict: strict}, outPath)
			unmatched := []string{} // features without a value in any row
			if res != nil {
				for _, u := range res.Unmatched {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: no row has a value of %s\n", u)
					unmatched = append(unmatched, u.Features...)
				}
			}
			switch {
			case errors.Is(err, registry.ErrExists):
				return fmt.Errorf("dataset %q exists; choose another name or pass --force to replace it", dataset)
			case errors.Is(err, repo.ErrOutputExists):
				return fmt.Errorf("--out %s exists; choose another file or pass --force to replace it", out)
			case errors.Is(err, repo.ErrUnmatched):
				return fmt.Errorf("--strict: %d features have no value in any row, so nothing was written", len(unmatched))
			case err != nil:
				return fmt.Errorf("export: %w", err)
			}
			w := cmd.OutOrStdout()
			if f == output.JSON {
				return output.WriteJSON(w, map[string]any{
					"output": outPath, "rows": res.Rows, "columns": res.Columns, "features": res.Features,
					"start": res.Start, "end": res.End, "dataset": dataset, "seconds": time.Since(began).Seconds(),
					"unmatched_features": unmatched,
				})
			}
			fmt.Fprintf(w, "Wrote %d rows x %d columns to %s in %.2fs (entity times %s .. %s).\n",
				res.Rows, len(res.Columns), out, time.Since(began).Seconds(), res.Start.Format(time.RFC3339), res.End.Format(time.RFC3339))
			if dataset != "" {
				fmt.Fprintf(w, "Recorded dataset %q.\n", dataset)
			}
			if head > 0 {
				return printHead(cmd, outPath, head)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&service, "service", "", "feature service whose features to export")
	fl.StringVar(&features, "features", "", "comma-separated view:feature or view references")
	fl.StringVar(&entities, "entities", "", "entity rows: a Parquet or CSV file")
	fl.StringVar(&out, "out", "", "Parquet file to write")
	fl.StringVar(&dataset, "dataset", "", "record the export in the registry under this name")
	fl.BoolVar(&force, "force", false, "replace an existing --out file and a dataset of the same name")
	fl.BoolVar(&overwrite, "overwrite", false, "the same as --force (its older name)")
	fl.BoolVar(&strict, "strict", false, "fail, writing nothing, when a feature has no value in any row")
	fl.BoolVar(&fullNames, "full-names", false, "name feature columns view__feature")
	fl.StringVar(&tsCol, "timestamp-column", offline.DefaultTimestampColumn, "event-time column of the entity rows")
	fl.IntVar(&head, "head", 5, "print the first N rows of the result (text output)")
	fl.StringVarP(&format, "output", "o", "text", "output format: text or json")
	return cmd
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// printHead prints the first n rows of a Parquet file as a table.
func printHead(cmd *cobra.Command, path string, n int) error {
	db, err := duck.Open(duck.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(cmd.Context(), fmt.Sprintf("SELECT * FROM read_parquet(%s) LIMIT %d", duck.Quote(path), n))
	if err != nil {
		return err
	}
	defer rows.Close()
	header, err := rows.Columns()
	if err != nil {
		return err
	}
	var table [][]string
	for rows.Next() {
		vals := make([]any, len(header))
		ptrs := make([]any, len(header))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = cell(v)
		}
		table = append(table, row)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout())
	return output.WriteTable(cmd.OutOrStdout(), header, table)
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		return fmt.Sprintf("%.4g", x)
	case float32:
		return fmt.Sprintf("%.4g", x)
	case sql.RawBytes, []byte:
		return fmt.Sprintf("%x", x)
	}
	return fmt.Sprint(v)
}
