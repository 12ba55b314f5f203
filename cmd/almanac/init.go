package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/almanac-fs/almanac/internal/demo"
	"github.com/almanac-fs/almanac/registry"
)

func newInitCmd() *cobra.Command {
	var withDemo bool
	var project string
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Create a new feature repository",
		Long: `Create a feature repository in DIR: an almanac.yaml with the default settings
(embedded online store, offline store and registry under DIR/.almanac),
ready for definition files. An existing almanac.yaml is never overwritten.

With --demo, DIR must be empty or absent; Almanac then also writes the
definitions and generated sample data of a ride-hailing business (drivers,
customers and trips over the three weeks before today), enough to run the
whole loop: plan, apply, materialize, export and serve.`,
		Example: `  almanac init rides --demo
  almanac init features --project pricing`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			dir := a[0]
			out := cmd.OutOrStdout()
			if withDemo {
				sum, err := demo.Write(dir, demo.Options{Now: time.Now().UTC().Truncate(24 * time.Hour)})
				if err != nil {
					return err
				}
				var files, rows int
				for _, f := range sum.Files {
					if strings.HasPrefix(f.Path, "data/") {
						files++
						rows += f.Rows
					}
				}
				fmt.Fprintf(out, "Created demo feature repository %s: %d data files, %d rows of events from %s to %s.\n",
					dir, files, rows, sum.Start.Format(time.DateOnly), sum.End.Format(time.DateOnly))
			} else {
				if project == "" {
					project = filepath.Base(filepath.Clean(dir))
				}
				if !registry.ValidName(project) {
					return usagef("project: %s; pass --project %s", registry.NameProblem(project), registry.SuggestName(project))
				}
				if err := demo.WriteSkeleton(dir, project); err != nil {
					return err
				}
				fmt.Fprintf(out, "Created feature repository %s (project %q).\n", dir, project)
			}
			fmt.Fprintf(out, "Next: almanac --repo %s plan\n", dir)
			return nil
		},
	}
	cmd.Flags().BoolVar(&withDemo, "demo", false, "add sample definitions and data")
	cmd.Flags().StringVar(&project, "project", "", "project name (default: the directory's name)")
	return cmd
}
