package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/almanac-fs/almanac/internal/output"
	"github.com/almanac-fs/almanac/internal/stores"
	"github.com/almanac-fs/almanac/pipelines"
	"github.com/almanac-fs/almanac/registry"
)

// loadRepo reads and validates the repository the command works on,
// checking each feature view against the columns its source or SQL produces.
func loadRepo(ctx context.Context, g *globals) (*registry.Repo, *registry.Store, error) {
	schemas := pipelines.NewSchemas()
	defer schemas.Close()
	repo, err := registry.Load(ctx, g.repoDir(), registry.LoadOptions{Schemas: schemas})
	if err != nil {
		if p, ok := errors.AsType[registry.Problems](err); ok {
			return nil, nil, fmt.Errorf("%d problem(s) in %s; nothing was written:\n%w", len(p), g.repoDir(), err)
		}
		return nil, nil, err
	}
	return repo, stores.Registry(repo.Config), nil
}

func newPlanCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Validate the definitions and show what apply would change",
		Long: `Read every definition file of the repository, validate them, and print the
difference with the stored registry, object by object and field by field:
+ added, ~ changed, - removed. Destructive changes (removing an object,
changing a feature's type or a view's entities) are marked; apply needs --yes
for them. A change to the features of an online view (names, types or order)
carries a note: the view's online values read as not found until it is
materialized again. Nothing is written.

Every problem in the definitions is listed at once with its file and line.`,
		Example: `  almanac plan
  almanac --repo rides plan -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(format, output.Text, output.JSON)
			if err != nil {
				return usageError{err}
			}
			repo, store, err := loadRepo(cmd.Context(), g)
			if err != nil {
				return err
			}
			cur, err := store.Current()
			if err != nil && !errors.Is(err, registry.ErrNoVersion) {
				return err
			}
			plan, err := registry.MakePlan(repo.Config.Project, cur, repo.Defs)
			if err != nil {
				return err
			}
			if f == output.JSON {
				return output.WriteJSON(cmd.OutOrStdout(), plan)
			}
			return plan.WriteText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	return cmd
}

func newApplyCmd(g *globals) *cobra.Command {
	var yes bool
	var format string
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Store the definitions as a new registry version",
		Long: `Validate the definitions, show the plan, and write it as a new version of the
registry. The write is atomic and concurrent applies wait for each other.
Nothing is written when the definitions have a problem or nothing changed.

Destructive changes (removing an object, changing a feature's type or a view's
entities) are refused unless --yes is given.`,
		Example: `  almanac apply
  almanac apply --yes     # also apply destructive changes`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(format, output.Text, output.JSON)
			if err != nil {
				return usageError{err}
			}
			repo, store, err := loadRepo(cmd.Context(), g)
			if err != nil {
				return err
			}
			plan, reg, err := registry.Apply(cmd.Context(), store, repo.Config.Project, repo.Defs, yes)
			out := cmd.OutOrStdout()
			if f == output.JSON {
				if err != nil {
					return err
				}
				return output.WriteJSON(out, struct {
					Plan        *registry.Plan `json:"plan"`
					Version     int64          `json:"version"`
					ContentHash string         `json:"content_hash"`
				}{plan, reg.GetVersion(), reg.GetContentHash()})
			}
			if plan != nil {
				if werr := plan.WriteText(out); werr != nil {
					return werr
				}
			}
			if err != nil {
				return err
			}
			if !plan.Empty() {
				fmt.Fprintf(out, "Applied: registry version %d (%.12s).\n", reg.GetVersion(), reg.GetContentHash())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "apply destructive changes too")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	return cmd
}
