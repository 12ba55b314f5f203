package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/onlinestore"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/pipelines"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk"
)

func envToken() string { return os.Getenv("ALMANAC_TOKEN") }

func newPushCmd(g *globals) *cobra.Command {
	var source, file string
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
--server); --local writes the configured stores directly.`,
		Example: `  almanac push --source driver_location --file data/push/driver_location.csv`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if source == "" || file == "" {
				return usagef("--source and --file are required")
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
			var written int64
			if rem.local {
				store, err := onlinestore.Open(cfg)
				if err != nil {
					return err
				}
				defer store.Close()
				p := &pipelines.Pusher{Online: store, Offline: offline.Open(cfg.Abs(cfg.OfflineStore.Path), offline.Options{}), DB: db}
				rows, err := p.Push(cmd.Context(), defs, source, cols)
				if err != nil {
					return err
				}
				written = int64(rows)
			} else {
				c, err := dialServer(cfg, rem)
				if err != nil {
					return err
				}
				defer c.Close()
				if written, err = c.Push(cmd.Context(), source, goColumns(cols)); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Pushed %d of %d rows to %s.\n", written, n, source)
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "push source to push to")
	cmd.Flags().StringVar(&file, "file", "", "rows to push: a .parquet, .csv or .jsonl file")
	rem.flags(cmd)
	return cmd
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
