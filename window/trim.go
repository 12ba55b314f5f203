package window

import (
	"slices"
	"sort"
	"time"

	"github.com/almanac-fs/almanac/registry"
)

// Trim drops from s the tiles no feature can read at now or after: in each
// series, the tiles that start before floor(now - span, hop) for the
// largest span of the features that use it. The lifetime series keeps its
// tile, and a series no feature uses keeps all of them. Rows, First and Last
// are kept: an entity whose rows all left its windows still reads 0 and null,
// not not-found.
func (s *Set) Trim(features []registry.WindowFeature, now time.Time) {
	for i := range s.Series {
		x := &s.Series[i]
		if x.Hop == 0 {
			continue
		}
		var lo time.Time
		used := false
		for _, f := range features {
			if f.Aggregation != x.Aggregation || f.Window.Hop.Milliseconds() != x.Hop {
				continue
			}
			if start, ok := f.Window.Start(now); ok && (!used || start.Before(lo)) {
				lo, used = start, true
			}
		}
		if !used {
			continue
		}
		ms := lo.UnixMilli()
		n := sort.Search(len(x.Tiles), func(j int) bool { return x.Tiles[j].Start >= ms })
		x.Tiles = slices.Delete(x.Tiles, 0, n)
	}
}
