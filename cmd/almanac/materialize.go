package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/almanac-fs/almanac/internal/alert"
	"github.com/almanac-fs/almanac/internal/output"
	"github.com/almanac-fs/almanac/internal/progress"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/pipelines"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk/repo"
)

// progressBars shows the progress of each view's run on w.
func progressBars(w io.Writer) func(pipelines.Progress) {
	bars := map[string]*progress.Bar{}
	return func(p pipelines.Progress) {
		bar, ok := bars[p.View]
		if !ok {
			bar = progress.New(w, p.View, "rows")
			bars[p.View] = bar
		}
		switch p.Phase {
		case pipelines.PhaseComputing:
			bar.Status("computing rows...")
		case pipelines.PhaseDone:
			bar.Set(p.Rows, p.Total)
			bar.Finish()
		default:
			bar.Set(p.Rows, p.Total)
		}
	}
}

// materializeFlags are the flags both materialize commands take.
type materializeFlags struct {
	format       string
	offlineOnly  bool
	strict       bool
	alertWebhook string
}

func (f *materializeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.format, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&f.offlineOnly, "offline-only", false, "write only the offline store")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "fail a view's run, writing nothing, when its rows break an expectation")
	cmd.Flags().StringVar(&f.alertWebhook, "alert-webhook", "", "POST broken expectations as JSON to this URL")
}

func newMaterializeCmd(g *globals) *cobra.Command {
	var fl materializeFlags
	cmd := &cobra.Command{
		Use:   "materialize START END [VIEW...]",
		Short: "Compute feature views for an event-time range into the offline store",
		Long: `Run the pipelines of the named feature views (default: all) for the event times
[START, END): read the source rows, apply each view's SQL, check the result
against the definition, and write it to the offline store partitioned by
event date. The range replaces what the store held for it, so running the
same range twice gives the same history as once. Each view's write is
committed atomically: readers see all of it or none of it.

Rows with a null join key or event time are dropped and counted. Views of
push sources are skipped: their rows arrive through push.

Data-quality expectations (expect: in the view) are checked on every run;
broken ones are listed after the summary and recorded with the run. With
--strict they fail the view's run before anything is written.
--alert-webhook posts them as JSON to a URL.

Then the latest row of each entity in the range goes to the online store
(unless --offline-only), for views with online: true. The online store keeps
the newer of what it holds and what it gets, so re-running a range, or an
older one, never makes a served value go back in time.

Each view's watermark, where materialize-incremental continues, moves to END,
or to the time of the run when END is later: rows with later event times can
still arrive. Rows that arrive late, behind the watermark, are read by
materializing their range again.

Times are RFC 3339 (2024-05-01T00:00:00Z), dates (2024-05-01, midnight UTC)
or "now".
Definitions are taken from the applied registry: run "almanac apply" first.`,
		Example: `  almanac materialize 2024-05-01 2024-06-01
  almanac materialize 2024-05-01T00:00:00Z 2024-05-02T00:00:00Z driver_stats`,
		Args: args(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			f, err := output.ParseFormat(fl.format, output.Text, output.JSON)
			if err != nil {
				return usageError{err}
			}
			start, err := parseTimeArg(a[0])
			if err != nil {
				return err
			}
			end, err := parseTimeArg(a[1])
			if err != nil {
				return err
			}
			if !start.Before(end) {
				return usagef("START %s must be before END %s", a[0], a[1])
			}
			noteFutureEnd(cmd, a[1], end)
			return materialize(g, cmd, f, fl, a[2:], func(r *repo.Repo, opts repo.MaterializeOptions) ([]pipelines.Result, error) {
				return r.Materialize(cmd.Context(), start, end, opts)
			})
		},
	}
	fl.register(cmd)
	return cmd
}

func newMaterializeIncrementalCmd(g *globals) *cobra.Command {
	var fl materializeFlags
	cmd := &cobra.Command{
		Use:   "materialize-incremental END [VIEW...]",
		Short: "Materialize each feature view from its watermark up to END",
		Long: `Like materialize, but each view's range starts at its watermark: the end of the
latest range materialized for it, or the time of that run when the range ended
later, or its first event when it has none. Views already up to date are
skipped. A watermark in the future, which older versions recorded for
"materialize START 2100-01-01", counts as none: the view starts over.`,
		Example: `  almanac materialize-incremental 2024-06-01
  almanac materialize-incremental now driver_stats`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			f, err := output.ParseFormat(fl.format, output.Text, output.JSON)
			if err != nil {
				return usageError{err}
			}
			end, err := parseTimeArg(a[0])
			if err != nil {
				return err
			}
			noteFutureEnd(cmd, a[0], end)
			return materialize(g, cmd, f, fl, a[1:], func(r *repo.Repo, opts repo.MaterializeOptions) ([]pipelines.Result, error) {
				return r.MaterializeIncremental(cmd.Context(), end, opts)
			})
		},
	}
	fl.register(cmd)
	return cmd
}

func materialize(g *globals, cmd *cobra.Command, f output.Format, fl materializeFlags, names []string,
	run func(*repo.Repo, repo.MaterializeOptions) ([]pipelines.Result, error)) error {
	r, err := repo.Open(g.repoDir())
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := pipelines.Views(r.Definitions(), names); err != nil {
		return usageError{err}
	}
	results, runErr := run(r, repo.MaterializeOptions{Views: names, OfflineOnly: fl.offlineOnly, Strict: fl.strict, Progress: progressBars(cmd.ErrOrStderr())})
	out := cmd.OutOrStdout()
	if f == output.JSON {
		if err := reportViolations(cmd, r.Config().Project, results, fl.alertWebhook); err != nil {
			return err
		}
		if runErr != nil {
			return runErr
		}
		return output.WriteJSON(out, results)
	}
	rows := make([][]string, 0, len(results))
	for _, r := range results {
		rng := "-"
		if !r.Start.IsZero() {
			rng = r.Start.Format(time.RFC3339) + " .. " + r.End.Format(time.RFC3339)
		}
		if r.Skipped != "" {
			rows = append(rows, []string{r.View, rng, "-", "-", "-", "-", "skipped: " + r.Skipped})
			continue
		}
		rows = append(rows, []string{r.View, rng, strconv.FormatInt(r.RowsWritten, 10), strconv.FormatInt(r.RowsDropped, 10),
			strconv.Itoa(r.Partitions), strconv.FormatInt(r.OnlineRows, 10), fmt.Sprintf("%.2fs", r.Seconds)})
	}
	if len(rows) > 0 {
		if err := output.WriteTable(out, []string{"VIEW", "RANGE", "ROWS", "DROPPED", "PARTITIONS", "ONLINE", "TIME"}, rows); err != nil {
			return err
		}
	}
	if err := reportViolations(cmd, r.Config().Project, results, fl.alertWebhook); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("%w (views listed above were committed)", runErr)
	}
	return nil
}

// parseTimeArg parses a time argument: RFC 3339, a date, or "now".
func parseTimeArg(s string) (time.Time, error) {
	if s == "now" {
		return time.Now().UTC(), nil
	}
	t, err := registry.ParseTime(s)
	if err != nil {
		return time.Time{}, usageError{err}
	}
	return t, nil
}

// noteFutureEnd says on standard error where the watermark stops when the
// argument END, parsed as end, is in the future.
func noteFutureEnd(cmd *cobra.Command, arg string, end time.Time) {
	if end.After(time.Now()) {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: END %s is in the future: the watermarks stop at the time of the run, and materialize-incremental continues from there\n", arg)
	}
}

// reportViolations lists broken expectations on standard error and posts
// them to the webhook, if any.
func reportViolations(cmd *cobra.Command, project string, results []pipelines.Result, webhook string) error {
	type broken struct {
		View       string              `json:"view"`
		Violations []offline.Violation `json:"violations"`
	}
	var all []broken
	for _, r := range results {
		if len(r.Violations) == 0 {
			continue
		}
		all = append(all, broken{r.View, r.Violations})
		for _, v := range r.Violations {
			target := r.View
			if v.Feature != "" {
				target += ":" + v.Feature
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "expectation broken: %s %s: %s\n", target, v.Rule, v.Detail)
		}
	}
	if len(all) == 0 || webhook == "" {
		return nil
	}
	return alert.Send(cmd.Context(), webhook, alert.Alert{Kind: "data_quality", Project: project, Time: time.Now().UTC(),
		Summary: fmt.Sprintf("%d feature view(s) broke data-quality expectations", len(all)), Details: all})
}
