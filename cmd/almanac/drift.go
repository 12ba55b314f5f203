package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/almanac-fs/almanac/drift"
	"github.com/almanac-fs/almanac/internal/alert"
	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/output"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

// errDriftFound makes the command exit with exitDrift.
var errDriftFound = errors.New("drift found")

// window are the flags choosing the served lookups of a time window.
type window struct {
	service    string
	since      string
	start, end string
}

func (w *window) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&w.service, "service", "", "feature service whose logged lookups to use")
	cmd.Flags().StringVar(&w.since, "since", "", "the window ending now, e.g. 1h or 7d (default 24h)")
	cmd.Flags().StringVar(&w.start, "start", "", "window start (RFC 3339 or date)")
	cmd.Flags().StringVar(&w.end, "end", "", "window end (RFC 3339, date or now)")
}

// bounds resolves the window's flags to [start, end).
func (w *window) bounds() (time.Time, time.Time, error) {
	if w.since != "" && (w.start != "" || w.end != "") {
		return time.Time{}, time.Time{}, usagef("give --since or --start/--end, not both")
	}
	now := time.Now().UTC()
	if w.start != "" || w.end != "" {
		if w.start == "" {
			return time.Time{}, time.Time{}, usagef("--end needs --start")
		}
		start, err := parseTimeArg(w.start)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		end := now
		if w.end != "" {
			if end, err = parseTimeArg(w.end); err != nil {
				return time.Time{}, time.Time{}, err
			}
		}
		return start, end, nil
	}
	since := w.since
	if since == "" {
		since = "24h"
	}
	d, err := registry.ParseDuration(since)
	if err != nil {
		return time.Time{}, time.Time{}, usageError{err}
	}
	return now.Add(-d), now, nil
}

// logRelation returns the relation of a service's logged lookups in the
// window, failing clearly when there are none.
func logRelation(store *offline.Store, w *window) (string, string, error) {
	start, end, err := w.bounds()
	if err != nil {
		return "", "", err
	}
	rel, files, err := drift.LogWindow(store, w.service, start, end)
	if err != nil {
		return "", "", err
	}
	source := fmt.Sprintf("lookups of %s logged %s .. %s", w.service, start.Format(time.RFC3339), end.Format(time.RFC3339))
	if files == 0 {
		return "", source, fmt.Errorf("no logged lookups of %q from %s to %s in %s; is the server logging it (logging.sample_rate)?",
			w.service, start.Format(time.RFC3339), end.Format(time.RFC3339), store.LogDir(w.service))
	}
	return rel, source, nil
}

func newProfileCmd(g *globals) *cobra.Command {
	var file, format string
	var w window
	cmd := &cobra.Command{
		Use:   "profile (--file F | --service S [--since D | --start T --end T])",
		Short: "Print the statistics of a file's columns or of served features",
		Long: `Compute, in one pass, a statistics profile of each feature: rows, nulls, min,
max, mean, standard deviation and quantiles for numbers; the most frequent
values for strings and bools. Profile any Parquet or CSV file (every column),
or the lookups of a feature service that the server logged in a time window.
Training sets exported with --dataset keep their profile, which drift checks
compare with.`,
		Example: `  almanac profile --file train.parquet
  almanac profile --service driver_ranking_v1 --since 1h -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(format, output.Text, output.JSON)
			if err != nil {
				return usageError{err}
			}
			if (file == "") == (w.service == "") {
				return usagef("give --file or --service")
			}
			db, err := duck.Open(duck.Options{})
			if err != nil {
				return err
			}
			defer db.Close()
			var rel, source string
			var cols []drift.Column
			if file != "" {
				if rel, err = drift.FileRelation(file); err != nil {
					return err
				}
				source = file
				if cols, err = drift.RelationColumns(cmd.Context(), db, rel); err != nil {
					return err
				}
			} else {
				cfg, defs, err := applied(g)
				if err != nil {
					return err
				}
				svc, err := defs.LookupService(w.service)
				if err != nil {
					return err
				}
				if rel, source, err = logRelation(offline.Open(cfg.Abs(cfg.OfflineStore.Path), offline.Options{}), &w); err != nil {
					return err
				}
				if cols, err = drift.ServiceColumns(defs, svc); err != nil {
					return err
				}
			}
			p, err := drift.Compute(cmd.Context(), db, rel, cols, source)
			if err != nil {
				return err
			}
			if f == output.JSON {
				return output.WriteJSON(cmd.OutOrStdout(), p)
			}
			return writeProfile(cmd.OutOrStdout(), p)
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "a Parquet or CSV file to profile")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	w.flags(cmd)
	return cmd
}

func writeProfile(w io.Writer, p *drift.Profile) error {
	fmt.Fprintf(w, "Profile of %s: %d rows.\n\n", p.Source, p.Rows)
	var rows [][]string
	for _, f := range p.Features {
		row := []string{f.Feature, f.Type, fmt.Sprintf("%.1f%%", 100*f.NullRate())}
		if f.Kind == drift.Numeric && f.Min != nil {
			std := "-"
			if f.Std != nil {
				std = fmt.Sprintf("%.4g", *f.Std)
			}
			row = append(row, fmt.Sprintf("%.4g", *f.Min), fmt.Sprintf("%.4g", f.Quantiles[len(f.Quantiles)/2]), fmt.Sprintf("%.4g", *f.Max),
				fmt.Sprintf("%.4g", *f.Mean), std)
		} else {
			top := make([]string, 0, 3)
			for _, c := range f.Categories[:min(3, len(f.Categories))] {
				top = append(top, c.Value+" "+strconv.FormatInt(c.Count, 10))
			}
			row = append(row, "-", "-", "-", "-", "-", strings.Join(top, ", "))
		}
		rows = append(rows, row)
	}
	return output.WriteTable(w, []string{"FEATURE", "TYPE", "NULLS", "MIN", "MEDIAN", "MAX", "MEAN", "STD", "TOP VALUES"}, rows)
}

func newDriftCmd(g *globals) *cobra.Command {
	var (
		dataset, current, format, out, webhook string
		failOnDrift, pushMetrics               bool
		w                                      window
	)
	cmd := &cobra.Command{
		Use:   "drift --dataset NAME (--service S [--since D | --start T --end T] | --current FILE)",
		Short: "Compare served or current data with a training set",
		Long: `Compare, feature by feature, current data with the profile of a training set
recorded by "almanac export --dataset": the lookups of a feature service that
the server logged in a window (default: the last 24h), or any Parquet or CSV
file whose columns are named view__feature or feature.

Numbers: PSI over the training set's deciles, the two-sample Kolmogorov-Smirnov
statistic and p-value, and the Wasserstein distance in training standard
deviations. Strings and bools: PSI over categories (values the training set
did not have form one bucket), the chi-squared p-value and the Jensen-Shannon
distance. For both, the null rates. A feature drifts when PSI reaches
psi_drift (default 0.2; warn from psi_warn, 0.1) or its null rate rises by 0.1
or more; thresholds are set per view, service or feature with monitoring:
blocks. With fewer than min_rows values (default 100) on either side a feature
is reported as insufficient_data, never as fine or drifted.

-o html writes a self-contained report with both distributions overlaid.
--fail-on-drift exits with code 3 when a feature drifts; --alert-webhook posts
the drifted features as JSON; --push-metrics keeps the report for the feature
server's /metrics (almanac_drift_psi, almanac_drift_drifted).`,
		Example: `  almanac drift --dataset trip_pricing_train --service trip_pricing_v1 --since 1h
  almanac drift --dataset trip_pricing_train --current today.parquet -o html --out drift.html
  almanac drift --dataset trip_pricing_train --service trip_pricing_v1 --fail-on-drift -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(format, output.Text, output.JSON, output.HTML)
			if err != nil {
				return usageError{err}
			}
			if dataset == "" || (current == "") == (w.service == "") {
				return usagef("give --dataset and one of --service or --current")
			}
			cfg, defs, err := applied(g)
			if err != nil {
				return err
			}
			store := offline.Open(cfg.Abs(cfg.OfflineStore.Path), offline.Options{})
			db, err := duck.Open(duck.Options{})
			if err != nil {
				return err
			}
			defer db.Close()
			var rel, source string
			if current != "" {
				source = current
				rel, err = drift.FileRelation(current)
			} else {
				rel, source, err = logRelation(store, &w)
			}
			if err != nil {
				return err
			}
			report, err := drift.CheckDataset(cmd.Context(), db, store, defs, dataset, w.service, rel, source)
			if err != nil {
				return err
			}
			if pushMetrics {
				if err := report.Save(drift.ReportPath(store, dataset)); err != nil {
					return err
				}
			}
			if err := writeReport(cmd, report, f, out); err != nil {
				return err
			}
			if webhook != "" && report.Drifted > 0 {
				if err := alert.Send(cmd.Context(), webhook, alert.Alert{Kind: "drift", Project: cfg.Project, Time: time.Now().UTC(),
					Summary: fmt.Sprintf("%d feature(s) drifted from dataset %s", report.Drifted, dataset), Details: report.DriftedFeatures()}); err != nil {
					return err
				}
			}
			if failOnDrift && report.Drifted > 0 {
				return fmt.Errorf("%w: %d feature(s) of dataset %q", errDriftFound, report.Drifted, dataset)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dataset, "dataset", "", "training set to compare with (recorded by export --dataset)")
	fl.StringVar(&current, "current", "", "a Parquet or CSV file of current data")
	fl.StringVarP(&format, "output", "o", "text", "output format: text, json or html")
	fl.StringVar(&out, "out", "", "write the report to this file instead of standard output")
	fl.BoolVar(&failOnDrift, "fail-on-drift", false, "exit with code 3 when a feature drifts")
	fl.StringVar(&webhook, "alert-webhook", "", "POST the drifted features as JSON to this URL")
	fl.BoolVar(&pushMetrics, "push-metrics", false, "keep the report for the feature server's /metrics")
	w.flags(cmd)
	return cmd
}

func writeReport(cmd *cobra.Command, r *drift.Report, f output.Format, path string) error {
	w := cmd.OutOrStdout()
	if path != "" {
		file, err := os.Create(path)
		if err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	switch f {
	case output.JSON:
		return output.WriteJSON(w, r)
	case output.HTML:
		if err := r.WriteHTML(w); err != nil {
			return err
		}
		if path != "" {
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote the drift report to %s: %d of %d features drifted.\n", path, r.Drifted, len(r.Features))
		}
		return nil
	}
	return r.WriteText(w)
}
