package sdk

import (
	"context"
	"fmt"
	"time"

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
	case nil:
		return &almanacv1.Value{}, nil
	case int:
		return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: int64(x)}}, nil
	case int32:
		return &almanacv1.Value{Val: &almanacv1.Value_Int32Val{Int32Val: x}}, nil
	case int64:
		return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: x}}, nil
	case float32:
		return &almanacv1.Value{Val: &almanacv1.Value_FloatVal{FloatVal: x}}, nil
	case float64:
		return &almanacv1.Value{Val: &almanacv1.Value_DoubleVal{DoubleVal: x}}, nil
	case bool:
		return &almanacv1.Value{Val: &almanacv1.Value_BoolVal{BoolVal: x}}, nil
	case string:
		return &almanacv1.Value{Val: &almanacv1.Value_StringVal{StringVal: x}}, nil
	case []byte:
		return &almanacv1.Value{Val: &almanacv1.Value_BytesVal{BytesVal: x}}, nil
	case time.Time:
		return &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: x.UnixMilli()}}, nil
	case []int:
		l := make([]int64, len(x))
		for i, n := range x {
			l[i] = int64(n)
		}
		return &almanacv1.Value{Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: l}}}, nil
	case []int32:
		return &almanacv1.Value{Val: &almanacv1.Value_Int32ListVal{Int32ListVal: &almanacv1.Int32List{Val: x}}}, nil
	case []int64:
		return &almanacv1.Value{Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: x}}}, nil
	case []float32:
		return &almanacv1.Value{Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: x}}}, nil
	case []float64:
		return &almanacv1.Value{Val: &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{Val: x}}}, nil
	case []bool:
		return &almanacv1.Value{Val: &almanacv1.Value_BoolListVal{BoolListVal: &almanacv1.BoolList{Val: x}}}, nil
	case []string:
		return &almanacv1.Value{Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: x}}}, nil
	case [][]byte:
		return &almanacv1.Value{Val: &almanacv1.Value_BytesListVal{BytesListVal: &almanacv1.BytesList{Val: x}}}, nil
	case []time.Time:
		ms := make([]int64, len(x))
		for i, t := range x {
			ms[i] = t.UnixMilli()
		}
		return &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{Val: ms}}}, nil
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
