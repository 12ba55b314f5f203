package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Column is a column of a source or of a feature view's SQL result.
type Column struct {
	Name   string
	Type   Type   // invalid when the column's type has no Almanac equivalent
	DBType string // the type as the engine that read it names it, if any
}

func (c Column) describe() string {
	if c.Type.Valid() {
		return c.Type.String()
	}
	return c.DBType
}

// SchemaResolver looks at the data a feature view is computed from.
// Implementations must be safe for use by one goroutine at a time.
type SchemaResolver interface {
	// ViewColumns returns the columns of the rows view is computed from:
	// the rows of src, or the result of the view's SQL over them (src's rows
	// are the table "source"). It returns a *SQLError, whether or not src
	// has data, when the view's SQL is not exactly one SELECT statement, and
	// otherwise an error wrapping ErrNoData when src has no data to look at
	// yet.
	ViewColumns(ctx context.Context, cfg *Config, src *Source, view *FeatureView) ([]Column, error)
}

// ErrNoData is returned by a SchemaResolver for a source without data.
var ErrNoData = errors.New("registry: source has no data yet")

// SQLError is returned by a SchemaResolver for a feature view whose sql is
// not exactly one SELECT statement: anything else, such as a COPY, an
// ATTACH or a second statement, could write files or change settings.
type SQLError struct {
	View string
	// Problem says what is wrong and what to change, in a clause whose
	// subject is the SQL: "has 2 statements; keep only the query, ...".
	Problem string
}

func (e *SQLError) Error() string { return fmt.Sprintf("feature view %q: %s", e.View, e.msg()) }

func (e *SQLError) msg() string {
	return `sql must be exactly one SELECT query over the table "source" (WITH … SELECT included), but it ` + e.Problem
}

// checkSchemas checks every feature view against the columns its input
// really has. Of views over sources without data yet, only the SQL is
// checked.
func checkSchemas(ctx context.Context, cfg *Config, defs *Definitions, r SchemaResolver, probs *Problems) error {
	for _, v := range defs.Views {
		src := defs.Source(v.Source)
		if src.Format == FormatPush {
			continue // checked against the declared schema
		}
		cols, err := r.ViewColumns(ctx, cfg, src, v)
		sqlErr, badSQL := errors.AsType[*SQLError](err)
		switch {
		case err == nil:
		case badSQL:
			probs.add(posIn(v.Pos, v.node, "sql"), fmt.Sprintf("feature view %q", v.Name), "%s", oneLine(sqlErr.msg()))
			continue
		case errors.Is(err, ErrNoData):
			if !v.resolved() {
				probs.add(posIn(v.Pos, v.node, "aggregations", strconv.Itoa(firstColumn(v))), fmt.Sprintf("feature view %q", v.Name), "%s", noDataProblem(v, src))
			}
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case v.SQL != "":
			probs.add(posIn(v.Pos, v.node, "sql"), fmt.Sprintf("feature view %q", v.Name), "sql does not run: %s; fix the query (the source's rows are the table \"source\")", oneLine(err.Error()))
			continue
		default:
			probs.add(posIn(v.Pos, v.node, "source"), fmt.Sprintf("feature view %q", v.Name), "read source %q: %s", src.Name, oneLine(err.Error()))
			continue
		}
		input := fmt.Sprintf("source %q", src.Name)
		if v.SQL != "" {
			input = "the result of sql"
		}
		before := len(*probs)
		feats := checkColumns(v, defs.JoinKeys(v), defs.TimestampField(v), cols, input, probs)
		if len(*probs) == before && !v.resolved() {
			v.setWindows(feats)
		}
	}
	return nil
}

// firstColumn returns the index of v's first aggregation with a column.
func firstColumn(v *FeatureView) int {
	return max(0, slices.IndexFunc(v.Aggregations, func(a Aggregation) bool { return a.Column != "" }))
}

// noDataProblem says why the types of the features of v, aggregated over
// src without data, are not known, and what to do.
func noDataProblem(v *FeatureView, src *Source) string {
	col := v.Aggregations[firstColumn(v)].Column
	if v.SQL != "" {
		return fmt.Sprintf("aggregates column %q of its sql's result over source %q, which has no data yet; add data, so that the column's type is known", Clip(col), src.Name)
	}
	return fmt.Sprintf("aggregates column %q of source %q, which has no data yet; declare the source's schema or add data", Clip(col), src.Name)
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// Convertible reports whether values of type from can be stored as type to
// without losing their meaning: the same type, a wider number, an integer
// as a float, or text as bytes.
func Convertible(from, to Type) bool {
	if !from.Valid() || !to.Valid() || from.List != to.List {
		return false
	}
	f, t := from.Elem, to.Elem
	switch {
	case f == t:
		return true
	case f == Int32 || f == Int64:
		return t == Int32 || t == Int64 || t == Float32 || t == Float64
	case f == Float32 || f == Float64:
		return t == Float32 || t == Float64
	case f == String:
		return t == Bytes
	}
	return false
}
