package window

import (
	"slices"
	"time"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// MaxPushIDs is how many push ids a Set remembers (Set.Pushes): a push
// retried after fewer than that many other pushes to the entity's record
// is recognized and not counted twice.
const MaxPushIDs = 64

// Pushed reports whether s remembers the push id.
func (s *Set) Pushed(id string) bool { return slices.Contains(s.Pushes, id) }

// Remember adds push ids to those s remembers, keeping the latest
// MaxPushIDs, oldest first; ids s remembers already keep their place.
func (s *Set) Remember(ids ...string) {
	for _, id := range ids {
		if !s.Pushed(id) {
			s.Pushes = append(s.Pushes, id)
		}
	}
	if n := len(s.Pushes) - MaxPushIDs; n > 0 {
		s.Pushes = slices.Delete(s.Pushes, 0, n)
	}
}

// Push takes a row pushed at now: into its tiles when its event time is at
// or before now, otherwise among s's pending rows, which Evaluate takes
// only at or after their time and Settle moves into the tiles. It keeps
// r.Values.
func (s *Set) Push(aggs []Agg, r Row, now time.Time) {
	if r.At.Time <= now.UnixMilli() {
		s.Add(aggs, r)
		return
	}
	s.Pending = append(s.Pending, r)
}

// Settle moves the pending rows with event times at or before now into
// the tiles.
func (s *Set) Settle(aggs []Agg, now time.Time) {
	ms := now.UnixMilli()
	s.Pending = slices.DeleteFunc(s.Pending, func(r Row) bool {
		if r.At.Time > ms {
			return false
		}
		s.Add(aggs, r)
		return true
	})
}

// Latest returns the latest event time, ms, of the rows s holds at or
// before t, pending rows included, and whether there is one. It is the
// event time a lookup at t serves with the values.
func (s *Set) Latest(t time.Time) (int64, bool) {
	ms := t.UnixMilli()
	last, ok := s.Last, s.Rows > 0 && s.First <= ms
	for _, r := range s.Pending {
		if r.At.Time <= ms && (!ok || r.At.Time > last) {
			last, ok = r.At.Time, true
		}
	}
	return last, ok
}

// pendingValue returns aggregation agg's column in pending row r.
func pendingValue(r *Row, agg int) *almanacv1.Value {
	if agg < len(r.Values) {
		return r.Values[agg]
	}
	return nil
}
