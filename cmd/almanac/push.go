package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/output"
	"github.com/almanac-fs/almanac/internal/progress"
	"github.com/almanac-fs/almanac/internal/stores"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/pipelines"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk"
)

func envToken() string { return os.Getenv("ALMANAC_TOKEN") }

func newPushCmd(g *globals) *cobra.Command {
	var source, file, format string
	var batchRows int
	var rem remote
	cmd := &cobra.Command{
		Use:   "push --source S --file FILE",
		Short: "Push rows to a push source",
		Long: `Read rows from a Parquet, CSV or JSON-lines file and push them to a push
source: the latest row of each entity reaches the online store at once, and
every row is appended to the offline history of the views over the source.
Columns are matched by name to the source's schema and converted to its
types; the event-time column is required.

By default the rows go through the feature server (serving.grpc_addr, or
--server); --local writes the configured stores directly.

Rows go in batches of --batch-rows, each acknowledged once both stores hold
it, with progress on a terminal. If a push fails midway, the batches before
it are stored; pushing the file again is safe, since the offline store
recognises the batches it appended lately and the online store keeps the
newer row.`,
		Example: `  almanac push --source driver_location --file data/push/driver_location.csv
  almanac push --source driver_location --file locations.parquet --local -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(format, output.Text, output.JSON)
			if err != nil {
				return usageError{err}
			}
			if source == "" || file == "" {
				return usagef("--source and --file are required")
			}
			if batchRows < 1 {
				return usagef("--batch-rows must be at least 1")
			}
			cfg, defs, err := applied(g)
			if err != nil {
				return err
			}
			src := defs.Source(source)
			if src == nil || src.Format != registry.FormatPush {
				return fmt.Errorf("%q is not a push source of the registry", source)
			}
			db, err := duck.Open(duck.Options{})
			if err != nil {
				return err
			}
			defer db.Close()
			cols, n, err := pipelines.ReadRows(cmd.Context(), db, file, src.Schema)
			if err != nil {
				return err
			}
			push, closePush, err := pusher(cmd, cfg, defs, db, source, rem)
			if err != nil {
				return err
			}
			defer closePush()
			began := time.Now()
			bar := progress.New(cmd.ErrOrStderr(), source, "rows")
			batchRows = min(batchRows, rowsUnder(cols, n, maxPushBytes))
			var written int64
			batches := 0
			for lo := 0; lo < n; lo += batchRows {
				hi := min(lo+batchRows, n)
				batch := make(map[string][]*almanacv1.Value, len(cols))
				for name, col := range cols {
					batch[name] = col[lo:hi]
				}
				rows, err := push(batch)
				if err != nil {
					bar.Finish()
					return fmt.Errorf("push rows %d to %d of %d: %w (the rows before them are stored; pushing the file again is safe)", lo+1, hi, n, err)
				}
				written += rows
				batches++
				bar.Set(int64(hi), int64(n))
			}
			bar.Finish()
			if f == output.JSON {
				return output.WriteJSON(cmd.OutOrStdout(), map[string]any{
					"source": source, "file": file, "rows": n, "written": written, "batches": batches, "seconds": time.Since(began).Seconds(),
				})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Pushed %d of %d rows to %s in %d batch(es), %.2fs.\n", written, n, source, batches, time.Since(began).Seconds())
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "push source to push to")
	cmd.Flags().StringVar(&file, "file", "", "rows to push: a .parquet, .csv or .jsonl file")
	cmd.Flags().IntVar(&batchRows, "batch-rows", 10000, "rows per push")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	rem.flags(cmd)
	return cmd
}

// pusher returns a function pushing one batch of rows, through the server
// or, with --local, straight to the stores, and a function closing what it
// opened.
func pusher(cmd *cobra.Command, cfg *registry.Config, defs *registry.Definitions, db *duck.DB, source string, rem remote) (func(map[string][]*almanacv1.Value) (int64, error), func(), error) {
	if rem.local {
		store, err := stores.Online(cfg, stores.OnlineOptions{})
		if err != nil {
			return nil, nil, err
		}
		p := &pipelines.Pusher{Online: store, Offline: offline.Open(cfg.Abs(cfg.OfflineStore.Path), offline.Options{}), DB: db, MaxFuture: cfg.MaxFuture()}
		return func(cols map[string][]*almanacv1.Value) (int64, error) {
			n, err := p.Push(cmd.Context(), defs, source, cols)
			return int64(n), err
		}, func() { store.Close() }, nil
	}
	c, err := dialServer(cfg, rem)
	if err != nil {
		return nil, nil, err
	}
	return func(cols map[string][]*almanacv1.Value) (int64, error) {
		return c.Push(cmd.Context(), source, goColumns(cols))
	}, func() { c.Close() }, nil
}

// maxPushBytes bounds the encoded size of one push, well under the 4 MiB
// that gRPC servers take by default.
const maxPushBytes = 2 << 20

// rowsUnder returns how many of the n rows of cols fit in about limit
// bytes of a push request, judging by the first thousand rows; at least one.
func rowsUnder(cols map[string][]*almanacv1.Value, n, limit int) int {
	sample := min(n, 1000)
	size := 0
	for _, col := range cols {
		for _, v := range col[:sample] {
			size += proto.Size(v) + 2 // with its tag and length
		}
	}
	if size == 0 {
		return n
	}
	return max(1, limit/(size/sample+1))
}

// goColumns converts wire columns to the SDK's Go columns.
func goColumns(cols map[string][]*almanacv1.Value) map[string][]any {
	out := make(map[string][]any, len(cols))
	for name, col := range cols {
		vals := make([]any, len(col))
		for i, v := range col {
			vals[i] = sdk.GoValue(v)
		}
		out[name] = vals
	}
	return out
}
