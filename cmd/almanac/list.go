package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/almanac-fs/almanac/internal/output"
	"github.com/almanac-fs/almanac/internal/stores"
	"github.com/almanac-fs/almanac/registry"
)

// applied returns the repository's settings and the definitions of its
// registry's current version.
func applied(g *globals) (*registry.Config, *registry.Definitions, error) {
	cfg, err := registry.LoadConfig(g.repoDir(), nil)
	if err != nil {
		return nil, nil, err
	}
	reg, err := stores.Registry(cfg).Current()
	if errors.Is(err, registry.ErrNoVersion) {
		return nil, nil, fmt.Errorf("nothing applied yet in %s; run \"almanac apply\" first", g.repoDir())
	}
	if err != nil {
		return nil, nil, err
	}
	defs, err := registry.DefinitionsFromProto(reg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, defs, nil
}

func newListCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list entities|sources|views|services|datasets",
		Short: "List the objects of one kind in the registry",
		Long: `List the entities, sources, feature views, feature services or datasets of the
registry's current version (what was last applied), one per line, or as a JSON
array with -o json.`,
		Example: `  almanac list views
  almanac list services -o json`,
		Args:      args(cobra.ExactArgs(1)),
		ValidArgs: []string{"entities", "sources", "views", "services", "datasets"},
		RunE: func(cmd *cobra.Command, a []string) error {
			f, err := output.ParseFormat(format, output.Table, output.JSON)
			if err != nil {
				return usageError{err}
			}
			kind, err := registry.ParseKind(a[0])
			if err != nil {
				return usageError{err}
			}
			_, defs, err := applied(g)
			if err != nil {
				return err
			}
			header, rows, objs := listing(defs, kind)
			if f == output.JSON {
				return output.WriteJSON(cmd.OutOrStdout(), objs)
			}
			return output.WriteTable(cmd.OutOrStdout(), header, rows)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json")
	return cmd
}

// listing returns the table and the JSON objects for one kind.
func listing(defs *registry.Definitions, kind string) (header []string, rows [][]string, objs []any) {
	objs = []any{}
	add := func(name string, row ...string) {
		rows = append(rows, row)
		obj, _ := defs.Describe(kind, name)
		objs = append(objs, obj)
	}
	switch kind {
	case registry.KindEntity:
		header = []string{"NAME", "JOIN KEYS", "DESCRIPTION"}
		for _, e := range defs.Entities {
			add(e.Name, e.Name, fieldList(e.JoinKeys), output.Truncate(e.Description, 60))
		}
	case registry.KindSource:
		header = []string{"NAME", "FORMAT", "PATH", "TIMESTAMP"}
		for _, s := range defs.Sources {
			add(s.Name, s.Name, string(s.Format), s.Path, s.TimestampField)
		}
	case registry.KindFeatureView:
		header = []string{"NAME", "ENTITIES", "SOURCE", "FEATURES", "TTL", "ONLINE"}
		for _, v := range defs.Views {
			ttl := "none"
			switch {
			case v.Aggregated():
				ttl = "windows"
			case v.TTL > 0:
				ttl = registry.FormatDuration(v.TTL)
			}
			add(v.Name, v.Name, strings.Join(v.Entities, ","), v.Source, featureCount(v), ttl, strconv.FormatBool(v.Online))
		}
	case registry.KindFeatureService:
		header = []string{"NAME", "FEATURES", "DESCRIPTION"}
		for _, s := range defs.Services {
			refs := make([]string, len(s.Features))
			for i, r := range s.Features {
				refs[i] = r.String()
			}
			add(s.Name, s.Name, output.Truncate(strings.Join(refs, ","), 60), output.Truncate(s.Description, 60))
		}
	case registry.KindDataset:
		header = []string{"NAME", "ROWS", "FEATURES", "OUTPUT", "CREATED"}
		for _, d := range defs.Datasets {
			add(d.Name, d.Name, strconv.FormatInt(d.RowCount, 10), strconv.Itoa(len(d.Features)), d.OutputPath, d.CreatedAt.UTC().Format(time.RFC3339))
		}
	}
	return header, rows, objs
}

// featureCount is the FEATURES cell of a view: how many, and for an
// aggregated view the windows they span.
func featureCount(v *registry.FeatureView) string {
	n := strconv.Itoa(len(v.Features))
	if !v.Aggregated() {
		return n
	}
	var spans []string
	for _, w := range v.Windows {
		span := "lifetime"
		if w.Window.Span != registry.Lifetime {
			span = registry.FormatDuration(w.Window.Span)
		}
		if !slices.Contains(spans, span) {
			spans = append(spans, span)
		}
	}
	return n + " over " + strings.Join(spans, ",")
}

func fieldList(fs []registry.Field) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Name + ":" + f.Type.String()
	}
	return strings.Join(parts, ",")
}

func newDescribeCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "describe KIND NAME",
		Short: "Print one object of the registry",
		Long: `Print one entity, source, feature view, feature service or dataset of the
registry's current version, as YAML in the form definitions are written in, or
as JSON with -o json. A feature view with aggregations is followed by the
features they compute, with their types, windows and hops (a comment in YAML,
generated_features in JSON).`,
		Example: `  almanac describe view driver_stats
  almanac describe service driver_ranking_v1 -o json`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			f, err := output.ParseFormat(format, output.YAML, output.JSON)
			if err != nil {
				return usageError{err}
			}
			kind, err := registry.ParseKind(a[0])
			if err != nil {
				return usageError{err}
			}
			_, defs, err := applied(g)
			if err != nil {
				return err
			}
			obj, err := defs.Describe(kind, a[1])
			if err != nil {
				return err
			}
			if f == output.JSON {
				return output.WriteJSON(cmd.OutOrStdout(), obj)
			}
			return output.WriteYAML(cmd.OutOrStdout(), obj)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}
