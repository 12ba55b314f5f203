// Package window computes the window aggregations of DESIGN §8: tiles of
// partial aggregates, their merge, and the value of a window at a time.
//
// A Partial is the partial aggregate of one aggregation (an Agg) over some
// rows; partials merge associatively, so the value of a window is the
// merge of the tiles (partials over one hop each) the window covers. A Set
// holds an entity's tiles for every (aggregation, hop) its features use;
// Build makes one from rows and Set.Evaluate gives the features' values at
// a time. Evaluate computes the same values from the raw rows, without
// tiles: it is the plain reading of §8 the tiles are tested against.
//
// Times are milliseconds since the Unix epoch, UTC, as the stores keep
// them. Values are shared, never copied: a value given to Add or returned
// by Result or Evaluate must not be changed.
package window
