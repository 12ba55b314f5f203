package offline

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/registry"
)

// windowJoin is what the export query needs to add the window features of
// one aggregated view: relations for its WITH clause, joins after the
// entity rows, and one output expression per selected feature.
type windowJoin struct {
	with, joins, cols []string
}

// windowQuery builds the window features of the aggregated view x, as
// DESIGN §8 says, at each entity row's time t: a feature of window w with
// hop h aggregates the view's rows with the entity row's join keys and
// event times in [floor(t-w, h), t], a lifetime feature every row up to t.
// Aliases begin with alias. The query has this shape:
//
//	r AS (the view's rows up to the latest t, from the earliest start:
//	      join keys, the columns aggregated, almanac_ts, almanac_key),
//	w AS (SELECT e.almanac_row,
//	             count(*) FILTER (WHERE r.almanac_ts >= e.almanac_s0) AS almanac_f0, ...
//	      FROM (SELECT almanac_row, join keys, almanac_ts,
//	                   floor(almanac_ts - w, h) AS almanac_s0, ... FROM e) AS e
//	      JOIN r ON join keys AND r.almanac_ts <= e.almanac_ts
//	            AND r.almanac_ts >= least(almanac_s0, ...)
//	      GROUP BY e.almanac_row),
//	f AS (SELECT join keys, min(almanac_ts) AS almanac_first
//	      FROM (the view's rows up to the latest t) GROUP BY join keys)
//	... FROM e LEFT JOIN w USING (almanac_row) LEFT JOIN f ON join keys
//	SELECT CASE WHEN f.almanac_first <= e.almanac_ts THEN coalesce(w.almanac_f0, 0) END, ...
//
// The join is a hash join on the keys that streams each pair whose event
// time is in range into the aggregate, one group per entity row, so that
// only rows and groups are held, never the pairs; DuckDB spills the join's
// and the aggregate's tables to disk beyond its memory limit. Its work is
// the pairs of entity rows and rows of the same keys, which windows do not
// bound: an entity with many entity rows and many events costs their
// product. The states of last and last_n (arg_max, max_by) are the
// exception: DuckDB holds them in memory it does not spill, a few values
// per entity row, so that an export of those over many entity rows needs
// memory in proportion. f tells entities with rows at or before t, whose empty windows
// count 0, from those without, whose features are null.
//
// Of rows tied on event time, last and last_n take them in the order of
// almanac_key, the order of the tie rule of plain views (see viewRows).
func (s *Store) windowQuery(ctx context.Context, conn *sql.Conn, x *selection, alias string, colOf map[string]string, full bool, minTS, maxTS sql.NullTime) (*windowJoin, error) {
	out := &windowJoin{}
	name := func(f registry.SelectedFeature) string {
		if full {
			return duck.Ident(f.FullName)
		}
		return duck.Ident(f.Field.Name)
	}
	var keyCols []string
	for _, k := range x.keys {
		keyCols = append(keyCols, fmt.Sprintf("CAST(%s AS %s) AS %[1]s", duck.Ident(k.Name), duck.TypeName(k.Type)))
	}
	first, _, found, err := s.viewRows(ctx, conn, x.view.Name, keyCols, time.Time{}, minTS, maxTS)
	if err != nil {
		return nil, err
	}
	if !found {
		for _, f := range x.features {
			out.cols = append(out.cols, fmt.Sprintf("CAST(NULL AS %s) AS %s", duck.TypeName(f.Field.Type), name(f)))
		}
		return out, nil
	}

	// The windows' starts at t, and the earliest any entity row needs.
	var starts []registry.Window
	lifetime := false
	for _, f := range x.features {
		w := x.view.Windows[f.Index].Window
		switch {
		case w.Span == registry.Lifetime:
			lifetime = true
		case !slices.Contains(starts, w):
			starts = append(starts, w)
		}
	}
	var from time.Time
	if !lifetime {
		for _, w := range starts {
			if st, _ := w.Start(minTS.Time); from.IsZero() || st.Before(from) {
				from = st
			}
		}
	}
	cols := slices.Clone(keyCols)
	for _, c := range aggregatedColumns(x) {
		cols = append(cols, duck.Ident(c))
	}
	rows, _, _, err := s.viewRows(ctx, conn, x.view.Name, cols, from, minTS, maxTS)
	if err != nil {
		return nil, err
	}
	eCols := []string{"almanac_row", "almanac_ts"}
	var on []string
	for _, k := range x.keys {
		eCols = append(eCols, colOf[k.Name])
		on = append(on, fmt.Sprintf("e.%s = r.%s", colOf[k.Name], duck.Ident(k.Name)))
	}
	startCol := map[registry.Window]string{}
	var startCols []string
	for i, w := range starts {
		startCol[w] = fmt.Sprintf("e.almanac_s%d", i)
		eCols = append(eCols, windowStart("almanac_ts", w)+fmt.Sprintf(" AS almanac_s%d", i))
		startCols = append(startCols, startCol[w])
	}
	on = append(on, "r.almanac_ts <= e.almanac_ts")
	if !lifetime {
		on = append(on, fmt.Sprintf("r.almanac_ts >= least(%s)", strings.Join(startCols, ", ")))
	}
	aggs := []string{"e.almanac_row"}
	wAlias, fAlias := alias+"w", alias+"f"
	for i, f := range x.features {
		wf := x.view.Windows[f.Index]
		agg, final := windowAggregate(x.view.Aggregations[wf.Aggregation], wf, startCol[wf.Window], fmt.Sprintf("%s.almanac_f%d", wAlias, i))
		aggs = append(aggs, fmt.Sprintf("%s AS almanac_f%d", agg, i))
		out.cols = append(out.cols, fmt.Sprintf("CASE WHEN %s.almanac_first <= e.almanac_ts THEN %s END AS %s", fAlias, final, name(f)))
	}
	var keys, fOn []string
	for _, k := range x.keys {
		keys = append(keys, duck.Ident(k.Name))
		fOn = append(fOn, fmt.Sprintf("e.%s = %s.%s", colOf[k.Name], fAlias, duck.Ident(k.Name)))
	}
	out.with = append(out.with,
		fmt.Sprintf("%sr AS (%s)", alias, rows),
		fmt.Sprintf("%s AS (SELECT %s FROM (SELECT %s FROM e) AS e JOIN %sr AS r ON %s GROUP BY e.almanac_row)",
			wAlias, strings.Join(aggs, ", "), strings.Join(eCols, ", "), alias, strings.Join(on, " AND ")),
		fmt.Sprintf("%s AS (SELECT %s, min(almanac_ts) AS almanac_first FROM (%s) GROUP BY ALL)", fAlias, strings.Join(keys, ", "), first))
	out.joins = append(out.joins,
		fmt.Sprintf("LEFT JOIN %[1]s ON %[1]s.almanac_row = e.almanac_row", wAlias),
		fmt.Sprintf("LEFT JOIN %s ON %s", fAlias, strings.Join(fOn, " AND ")))
	return out, nil
}

// aggregatedColumns returns the columns the selected features of x
// aggregate, each once, leaving out the join keys, which are read anyway.
func aggregatedColumns(x *selection) []string {
	var out []string
	for _, f := range x.features {
		c := x.view.Aggregations[x.view.Windows[f.Index].Aggregation].Column
		isKey := slices.ContainsFunc(x.keys, func(k registry.Field) bool { return k.Name == c })
		if c != "" && !isKey && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// windowStart is the SQL of floor(ts - w.Span, w.Hop) for a TIMESTAMPTZ
// expression ts, with the hops aligned to the Unix epoch, in milliseconds
// as registry.Window.Start computes it: in microseconds, with the span
// and hop in whole milliseconds, flooring to the hop floors to the
// millisecond first. DuckDB's % keeps the dividend's sign, hence the
// second modulo for times before 1970.
func windowStart(ts string, w registry.Window) string {
	span, hop := w.Span.Milliseconds()*1000, w.Hop.Milliseconds()*1000
	x := fmt.Sprintf("(epoch_us(%s) - %d)", ts, span)
	return fmt.Sprintf("CAST(make_timestamp(%s - ((%[1]s %% %[2]d) + %[2]d) %% %[2]d) AS TIMESTAMPTZ)", x, hop)
}

// windowAggregate returns the aggregate computing wf, a feature of a, over
// the rows r joined to an entity row e, whose window starts at the
// column start (none for a lifetime), and the expression of the feature's
// value given the aggregate's result in the column res, for an entity with
// rows at or before t: count and sum 0 and last_n an empty list when the
// window holds no value. Nulls in the column are left out.
func windowAggregate(a registry.Aggregation, wf registry.WindowFeature, start, res string) (agg, final string) {
	var filter []string
	if start != "" {
		filter = append(filter, "r.almanac_ts >= "+start)
	}
	col := "r." + duck.Ident(a.Column)
	if a.Column != "" {
		filter = append(filter, col+" IS NOT NULL")
	}
	typ := duck.TypeName(wf.Type)
	final = fmt.Sprintf("CAST(%s AS %s)", res, typ)
	switch a.Function {
	case registry.AggCount:
		agg = "count(*)"
		final = fmt.Sprintf("coalesce(%s, 0)", res)
	case registry.AggSum:
		// DuckDB sums integers as HUGEINT: the cast back to BIGINT fails
		// the export on an overflow rather than wrapping.
		agg = fmt.Sprintf("sum(%s)", col)
		final = fmt.Sprintf("CAST(coalesce(%s, 0) AS %s)", res, typ)
	case registry.AggMean:
		agg = fmt.Sprintf("avg(%s)", col)
	case registry.AggStddev:
		agg = fmt.Sprintf("stddev_samp(%s)", col)
	case registry.AggMin:
		agg = fmt.Sprintf("min(%s)", col)
	case registry.AggMax:
		agg = fmt.Sprintf("max(%s)", col)
	case registry.AggLast:
		agg = fmt.Sprintf("arg_max(%s, r.almanac_key)", col)
	case registry.AggLastN:
		// max_by with n lists the values of the n greatest keys, the
		// greatest first: newest first.
		agg = fmt.Sprintf("max_by(%s, r.almanac_key, %d)", col, a.N)
		final = fmt.Sprintf("coalesce(CAST(%s AS %s), CAST([] AS %[2]s))", res, typ)
	}
	if len(filter) > 0 {
		agg += " FILTER (WHERE " + strings.Join(filter, " AND ") + ")"
	}
	return agg, final
}
