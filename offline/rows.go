package offline

import (
	"context"
	"database/sql"
	"time"
)

// ViewRows returns the query of the rows of view's history with event times
// in [from, until] (no lower bound when from is zero), for readers besides
// export (materializing window tiles): the columns cols, SQL expressions
// over the stored columns, then the event time, almanac_ts, and the sort
// key of the tie rule, almanac_key, a struct {ts, created, tie} (created
// only when created is true; a null created time reads as -infinity) that
// orders rows of one key as export does, the winner of a tie last. found
// is false when the view has no history up to until.
func (s *Store) ViewRows(ctx context.Context, conn *sql.Conn, view string, cols []string, from, until time.Time) (q string, created, found bool, err error) {
	at := sql.NullTime{Time: until, Valid: true}
	return s.viewRows(ctx, conn, view, cols, from, at, at)
}
