package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/almanac-fs/almanac/internal/output"
	"github.com/almanac-fs/almanac/internal/stores"
	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk"
	"github.com/almanac-fs/almanac/server"
)

// remote are the flags of commands that talk to a feature server.
type remote struct {
	server string
	local  bool
	token  string
}

func (r *remote) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.server, "server", "", "feature server address (default serving.grpc_addr)")
	cmd.Flags().BoolVar(&r.local, "local", false, "use the configured online store directly instead of a server")
	cmd.Flags().StringVar(&r.token, "token", "", "bearer token for the server (default $ALMANAC_TOKEN)")
}

func newGetCmd(g *globals) *cobra.Command {
	var (
		service, features, format string
		entities                  []string
		fullNames                 bool
		rem                       remote
	)
	cmd := &cobra.Command{
		Use:   "get (--service S | --features R,...) --entity KEY=VALUE[,KEY=VALUE]...",
		Short: "Look up the latest feature values of entities",
		Long: `Look up features online, as a serving application would, and print each value
with its status (PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE) and event
time. Each --entity is one entity row; a row of a view keyed by several
entities lists every join key, separated by commas.

By default the lookup goes through the feature server (serving.grpc_addr, or
--server) with the Go SDK; --local reads the configured online store directly.`,
		Example: `  almanac get --service driver_ranking_v1 --entity driver_id=1001 --entity driver_id=1002
  almanac get --features driver_stats:conv_rate --entity driver_id=1001 --local -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(format, output.Table, output.JSON)
			if err != nil {
				return usageError{err}
			}
			if len(entities) == 0 {
				return usagef("give at least one --entity KEY=VALUE")
			}
			cfg, err := registry.LoadConfig(g.repoDir(), nil)
			if err != nil && (rem.local || rem.server == "") {
				return err
			}
			var defs *registry.Definitions
			if cfg != nil {
				_, defs, _ = applied(g) // for the join keys' types, when there is a registry
			}
			q := sdk.Query{FeatureService: service, FullNames: fullNames}
			if features != "" {
				q.Features = strings.Split(features, ",")
			}
			if q.Entities, err = parseEntities(entities, defs); err != nil {
				return usageError{err}
			}
			var resp *almanacv1.GetOnlineFeaturesResponse
			if rem.local {
				resp, err = getLocal(cmd.Context(), cfg, q)
			} else {
				resp, err = getRemote(cmd.Context(), cfg, rem, q)
			}
			if err != nil {
				return err
			}
			return printLookup(cmd.OutOrStdout(), resp, f)
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "feature service to look up")
	cmd.Flags().StringVar(&features, "features", "", "comma-separated view:feature or view references")
	cmd.Flags().StringArrayVar(&entities, "entity", nil, "an entity row: KEY=VALUE[,KEY=VALUE...] (repeatable)")
	cmd.Flags().BoolVar(&fullNames, "full-names", false, "name features view__feature")
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json")
	rem.flags(cmd)
	return cmd
}

// parseEntities turns KEY=VALUE rows into entity columns, typed by the join
// keys of defs when known, else as integers when they look like one.
func parseEntities(rows []string, defs *registry.Definitions) (sdk.Entities, error) {
	types := map[string]registry.Type{}
	if defs != nil {
		for _, e := range defs.Entities {
			for _, k := range e.JoinKeys {
				types[k.Name] = k.Type
			}
		}
	}
	out := sdk.Entities{}
	for i, row := range rows {
		for _, pair := range strings.Split(row, ",") {
			key, val, ok := strings.Cut(pair, "=")
			switch {
			case !ok || key == "":
				return nil, fmt.Errorf("--entity %q: write KEY=VALUE", registry.Clip(row))
			case len(out[key]) == i+1:
				return nil, fmt.Errorf("--entity %q: %s is given twice", registry.Clip(row), registry.Clip(key))
			case len(out[key]) != i:
				return nil, fmt.Errorf("--entity %q: every row must give the same keys", registry.Clip(row))
			}
			v, err := parseKey(val, types[key])
			if err != nil {
				return nil, fmt.Errorf("--entity %q: %s: %w", registry.Clip(row), registry.Clip(key), err)
			}
			out[key] = append(out[key], v)
		}
	}
	for key, col := range out {
		if len(col) != len(rows) {
			return nil, fmt.Errorf("join key %q is missing from some --entity rows", registry.Clip(key))
		}
	}
	return out, nil
}

// parseKey converts a join key's value to the Go value of its type t, or,
// for keys of no known type, to an int64 if it is one and a string if not.
func parseKey(s string, t registry.Type) (any, error) {
	if k := values.KindOf(t.Elem); k != nil && !t.List {
		v, err := k.Parse(s)
		if err != nil {
			return nil, notInteger(s, t, err)
		}
		return values.Go(v), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	return s, nil
}

// notInteger is the error of a value s that strconv.ParseInt refused for
// a key of type t, quoting a bounded part of s once.
func notInteger(s string, t registry.Type, err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		err = ne.Err
	}
	return fmt.Errorf("%q is not an %s: %w", registry.Clip(s), t, err)
}

func getRemote(ctx context.Context, cfg *registry.Config, rem remote, q sdk.Query) (*almanacv1.GetOnlineFeaturesResponse, error) {
	c, err := dialServer(cfg, rem)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res, err := c.GetOnlineFeatures(ctx, q)
	if err != nil {
		return nil, err
	}
	return res.Response(), nil
}

// dialServer connects the SDK to the server of --server or the settings.
func dialServer(cfg *registry.Config, rem remote) (*sdk.Client, error) {
	addr := rem.server
	if addr == "" {
		addr = cfg.Serving.GRPCAddr
	}
	token := rem.token
	if token == "" {
		token = envToken()
	}
	var opts []sdk.Option
	if token != "" {
		opts = append(opts, sdk.WithToken(token))
	}
	return sdk.Dial(addr, append(opts, sdk.WithTimeout(10*time.Second))...)
}

// getLocal answers the lookup in-process, with the server's own logic, from
// the configured online store.
func getLocal(ctx context.Context, cfg *registry.Config, q sdk.Query) (*almanacv1.GetOnlineFeaturesResponse, error) {
	store, err := stores.Online(cfg, stores.OnlineOptions{})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	srv, err := server.New(server.Options{Store: store, Registry: stores.Registry(cfg), OnlineTimeout: cfg.OnlineTimeout()})
	if err != nil {
		return nil, err
	}
	req, err := q.Request()
	if err != nil {
		return nil, err
	}
	return srv.GetOnlineFeatures(ctx, req)
}

// printLookup prints a lookup: one line per entity row and column.
func printLookup(w io.Writer, resp *almanacv1.GetOnlineFeaturesResponse, f output.Format) error {
	names := resp.GetMetadata().GetFeatureNames().GetVal()
	cols := resp.GetResults()
	n := 0
	if len(cols) > 0 {
		n = len(cols[0].GetValues())
	}
	type cell struct {
		Value     any        `json:"value"`
		Status    string     `json:"status"`
		EventTime *time.Time `json:"event_time,omitempty"`
	}
	jsonRows := make([]map[string]cell, n)
	var table [][]string
	for row := range n {
		jsonRows[row] = map[string]cell{}
		for i, name := range names {
			c := cols[i]
			v := c.GetValues()[row]
			st := c.GetStatuses()[row]
			var ts *time.Time
			if t := c.GetEventTimestamps()[row]; t.GetSeconds() != 0 || t.GetNanos() != 0 {
				tt := t.AsTime()
				ts = &tt
			}
			jsonRows[row][name] = cell{Value: values.Go(v), Status: st.String(), EventTime: ts}
			when := ""
			if ts != nil {
				when = ts.Format(time.RFC3339Nano)
			}
			table = append(table, []string{strconv.Itoa(row), name, output.Truncate(displayValue(v), 60), st.String(), when})
		}
	}
	if f == output.JSON {
		return output.WriteJSON(w, map[string]any{"features": names, "rows": jsonRows})
	}
	return output.WriteTable(w, []string{"ROW", "NAME", "VALUE", "STATUS", "EVENT TIME"}, table)
}

func displayValue(v *almanacv1.Value) string {
	switch x := values.Go(v).(type) {
	case nil:
		return "null"
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []byte:
		return fmt.Sprintf("%x", x)
	default:
		return fmt.Sprint(x)
	}
}
