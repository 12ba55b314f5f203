package main

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/almanac-fs/almanac/internal/output"
	"github.com/almanac-fs/almanac/internal/stores"
	"github.com/almanac-fs/almanac/registry"
)

func newRegistryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Inspect the stored registry",
		Args: func(_ *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usagef("unknown command %q for \"almanac registry\"", a[0])
			}
			return nil
		},
	}
	var format string
	history := &cobra.Command{
		Use:   "history",
		Short: "List every registry version with its time, content hash and change",
		Long: `List the versions of the stored registry, oldest first. Each apply that changes
something writes a new version; versions are never rewritten.`,
		Example: `  almanac registry history
  almanac registry history -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(format, output.Table, output.JSON)
			if err != nil {
				return usageError{err}
			}
			cfg, err := registry.LoadConfig(g.repoDir(), nil)
			if err != nil {
				return err
			}
			versions, err := stores.Registry(cfg).History()
			if err != nil {
				return err
			}
			type entry struct {
				Version     int64     `json:"version"`
				CreatedAt   time.Time `json:"created_at"`
				ContentHash string    `json:"content_hash"`
				Summary     string    `json:"summary"`
			}
			entries := make([]entry, len(versions))
			rows := make([][]string, len(versions))
			for i, v := range versions {
				entries[i] = entry{v.GetVersion(), v.GetCreatedAt().AsTime(), v.GetContentHash(), v.GetSummary()}
				rows[i] = []string{strconv.FormatInt(v.GetVersion(), 10), v.GetCreatedAt().AsTime().Format(time.RFC3339), v.GetContentHash()[:12], v.GetSummary()}
			}
			if f == output.JSON {
				return output.WriteJSON(cmd.OutOrStdout(), entries)
			}
			return output.WriteTable(cmd.OutOrStdout(), []string{"VERSION", "CREATED", "HASH", "CHANGE"}, rows)
		},
	}
	history.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(history)
	return cmd
}
