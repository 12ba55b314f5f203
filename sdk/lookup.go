package sdk

import (
	"context"
	"fmt"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// Entities are entity columns: join key name to one value per entity row.
// Values are Go values: int, int32, int64, string or []byte.
type Entities map[string][]any

// Query is one online lookup: a feature service or a list of features
// ("view:feature", or "view" for all of a view's features), for the entity
// rows in Entities.
type Query struct {
	FeatureService string
	Features       []string
	Entities       Entities
	// FullNames names features "view__feature" instead of "feature".
	FullNames bool
}

// Request returns the wire request of the query, as GetOnlineFeatures
// sends it.
func (q Query) Request() (*almanacv1.GetOnlineFeaturesRequest, error) {
	req := &almanacv1.GetOnlineFeaturesRequest{FullFeatureNames: q.FullNames}
	switch {
	case q.FeatureService != "" && len(q.Features) > 0:
		return nil, fmt.Errorf("sdk: set FeatureService or Features, not both")
	case q.FeatureService != "":
		req.Kind = &almanacv1.GetOnlineFeaturesRequest_FeatureService{FeatureService: q.FeatureService}
	case len(q.Features) > 0:
		req.Kind = &almanacv1.GetOnlineFeaturesRequest_Features{Features: &almanacv1.FeatureList{Val: q.Features}}
	default:
		return nil, fmt.Errorf("sdk: set FeatureService or Features")
	}
	var err error
	if req.Entities, err = columnsOf("entity", q.Entities); err != nil {
		return nil, err
	}
	return req, nil
}

// columnsOf converts columns of Go values to wire columns; what names a
// column in errors.
func columnsOf(what string, cols map[string][]any) (map[string]*almanacv1.RepeatedValue, error) {
	out := make(map[string]*almanacv1.RepeatedValue, len(cols))
	for name, col := range cols {
		vals := make([]*almanacv1.Value, len(col))
		for i, v := range col {
			pv, err := ValueOf(v)
			if err != nil {
				return nil, fmt.Errorf("sdk: %s %q, row %d: %w", what, name, i, err)
			}
			vals[i] = pv
		}
		out[name] = &almanacv1.RepeatedValue{Val: vals}
	}
	return out, nil
}

// GetOnlineFeatures looks up the latest feature values of the query's
// entities.
func (c *Client) GetOnlineFeatures(ctx context.Context, q Query) (*Result, error) {
	req, err := q.Request()
	if err != nil {
		return nil, err
	}
	var resp *almanacv1.GetOnlineFeaturesResponse
	err = c.call(ctx, func(ctx context.Context) error {
		var err error
		resp, err = c.rpc.GetOnlineFeatures(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return newResult(resp)
}

// ValueOf converts a Go value to a wire value: nil, int (as int64), int32,
// int64, float32, float64, bool, string, []byte, time.Time, or a slice of
// one of those ([]int as a list of int64).
func ValueOf(v any) (*almanacv1.Value, error) {
	switch x := v.(type) {
	case int:
		return values.Int64(int64(x)), nil
	case []int:
		l := make([]int64, len(x))
		for i, n := range x {
			l[i] = int64(n)
		}
		v = l
	}
	if val, ok := values.Of(v); ok {
		return val, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

// Push sends rows to a push source: column name to one value per row, the
// event-time column as time.Time. It returns the rows stored. Like a lookup,
// it is retried on UNAVAILABLE; the server stores the rows of a retried push
// once. A push is one request, which the server takes up to 4 MiB (gRPC's
// default): send many rows in batches, as almanac push does.
func (c *Client) Push(ctx context.Context, source string, columns map[string][]any) (int64, error) {
	cols, err := columnsOf("column", columns)
	if err != nil {
		return 0, err
	}
	req := &almanacv1.PushRequest{Source: source, Columns: cols}
	var resp *almanacv1.PushResponse
	err = c.call(ctx, func(ctx context.Context) error {
		var err error
		resp, err = c.rpc.Push(ctx, req)
		return err
	})
	if err != nil {
		return 0, err
	}
	return resp.GetRowsWritten(), nil
}
