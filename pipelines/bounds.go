package pipelines

import (
	"fmt"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// minValueTime is the earliest timestamp other than an event time (a
// created time, a timestamp feature) that a push may hold: any time the
// stores and protobuf hold, from year 1 to the end of 9999.
var minValueTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// checkTimes checks the timestamps of pushed columns, converted to the
// source's schema: event times in [registry.MinTime, now + MaxFuture],
// every other timestamp in [year 1, registry.MaxTime). A time out of range
// gives an error wrapping online.ErrInvalid that names its column, row and
// the bound.
func (p *Pusher) checkTimes(src *registry.Source, columns map[string][]*almanacv1.Value) error {
	maxFuture := p.MaxFuture
	if maxFuture == 0 {
		defaults := registry.DefaultConfig("")
		maxFuture = defaults.MaxFuture()
	}
	latest := p.now().UTC().Add(maxFuture)
	for _, f := range src.Schema {
		col, ok := columns[f.Name]
		if !ok || f.Type.Elem != registry.Timestamp {
			continue
		}
		inRange := func(row int, ms int64) error {
			t := time.UnixMilli(ms).UTC()
			switch {
			case f.Name == src.TimestampField && t.Before(registry.MinTime):
				return fmt.Errorf("%w: column %q, row %d: event time %s is before %s, the earliest event time",
					online.ErrInvalid, f.Name, row, t.Format(time.RFC3339Nano), registry.MinTime.Format(time.DateOnly))
			case f.Name == src.TimestampField && t.After(latest):
				return fmt.Errorf("%w: column %q, row %d: event time %s is after %s, push.max_future (%s) past now; push events when they happen",
					online.ErrInvalid, f.Name, row, t.Format(time.RFC3339Nano), latest.Format(time.RFC3339), registry.FormatDuration(maxFuture))
			case t.Before(minValueTime) || !t.Before(registry.MaxTime):
				return fmt.Errorf("%w: column %q, row %d: timestamp %s is out of range: timestamps go from year 1 to the end of %d",
					online.ErrInvalid, f.Name, row, t.Format(time.RFC3339Nano), registry.MaxTime.Year()-1)
			}
			return nil
		}
		for row, v := range col {
			var err error
			switch x := v.GetVal().(type) {
			case *almanacv1.Value_UnixTimestampVal:
				err = inRange(row, x.UnixTimestampVal)
			case *almanacv1.Value_UnixTimestampListVal:
				for _, ms := range x.UnixTimestampListVal.GetVal() {
					if err = inRange(row, ms); err != nil {
						break
					}
				}
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// eventTimeOutOfRange is the SQL condition of rows whose event time, the
// TIMESTAMPTZ column ts, lies outside [registry.MinTime, registry.MaxTime):
// materialization drops them, as it drops rows without a key.
func eventTimeOutOfRange(ts string) string {
	return fmt.Sprintf("NOT (epoch_ms(%[1]s) >= %[2]d AND epoch_ms(%[1]s) < %[3]d)", duck.Ident(ts), registry.MinTime.UnixMilli(), registry.MaxTime.UnixMilli())
}
