package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

var _ online.Updater = (*Store)(nil)

const (
	// updateAttempts is how many times Update tries to set a key that
	// other writers keep changing between its read and its write.
	updateAttempts = 32
	// updateBackoff is the longest wait before an attempt of Update: each
	// waits a random time up to 100µs, doubling with each attempt, up to
	// this.
	updateBackoff = 10 * time.Millisecond
)

// Update implements online.Updater by compare-and-set: it reads every key
// (one MGET per slot, in one pipelined round trip), calls fn, then sets each
// key whose record fn changed by the compare-and-set script, one call per
// slot and up to 100 keys, in one pipeline: a key is set only when it still
// holds what was read. The keys that other writers changed meanwhile are
// read and tried again, after a short random wait, up to 32 times; then the
// Update fails with an error wrapping online.ErrContended. Updated records
// do not expire, whatever the view's TTL.
func (s *Store) Update(ctx context.Context, view online.View, keys [][]*almanacv1.Value, fn func(i int, old string) (string, error)) error {
	if s.closed.Load() {
		return online.ErrClosed
	}
	// Each distinct key once (of[i] is key i's), so that fn sees, for a key
	// that comes again, the record it returned before.
	var distinct []string
	of := make([]int, len(keys))
	seen := make(map[string]int, len(keys))
	var buf []byte
	for i, k := range keys {
		var err error
		if buf, err = online.AppendStoreKey(buf[:0], s.prefix, view.Name, k); err != nil {
			return fmt.Errorf("update view %q, key %d: %w", view.Name, i, err)
		}
		d, ok := seen[string(buf)]
		if !ok {
			d = len(distinct)
			distinct = append(distinct, string(buf))
			seen[distinct[d]] = d
		}
		of[i] = d
	}
	// todo holds the keys to (try to) update, by index, and pending their
	// distinct keys.
	todo := make([]int, len(keys))
	for i := range todo {
		todo[i] = i
	}
	pending := make([]int, len(distinct))
	for d := range pending {
		pending[d] = d
	}
	read, cur := make([]string, len(distinct)), make([]string, len(distinct))
	for attempt := 1; len(todo) > 0; attempt++ {
		if attempt > 1 {
			if err := wait(ctx, attempt); err != nil {
				return fmt.Errorf("update view %q: %w", view.Name, err)
			}
		}
		pendingKeys := make([]string, len(pending))
		for j, d := range pending {
			pendingKeys[j] = distinct[d]
		}
		values, err := s.mgetKeys(ctx, pendingKeys)
		if err != nil {
			return fmt.Errorf("update view %q: %w", view.Name, err)
		}
		for j, d := range pending {
			read[d], cur[d] = values[j], values[j]
		}
		for _, i := range todo {
			rec, err := fn(i, cur[of[i]])
			if err != nil {
				return fmt.Errorf("update view %q, key %d: %w", view.Name, i, err)
			}
			if rec != "" {
				cur[of[i]] = rec
			}
		}
		changed, err := s.setUnchanged(ctx, distinct, pending, read, cur)
		if err != nil {
			return fmt.Errorf("update %d keys of view %q: %w", len(pending), view.Name, err)
		}
		if len(changed) == 0 {
			return nil
		}
		if attempt == updateAttempts {
			return fmt.Errorf("update view %q: key %q and %d others, at %d attempts: %w", view.Name, distinct[changed[0]], len(changed)-1, attempt, online.ErrContended)
		}
		retry := make(map[int]bool, len(changed))
		for _, d := range changed {
			retry[d] = true
		}
		todo = todo[:0]
		for i, d := range of {
			if retry[d] {
				todo = append(todo, i)
			}
		}
		pending = changed
	}
	return nil
}

// setUnchanged sets each pending key d of distinct whose record fn changed
// (from read[d] to cur[d]) to cur[d], where it still holds read[d], by the
// compare-and-set script. It returns the keys, of pending, that other
// writers changed meanwhile.
func (s *Store) setUnchanged(ctx context.Context, distinct []string, pending []int, read, cur []string) ([]int, error) {
	var keys []string
	var args []any
	var ids []int
	for _, d := range pending {
		if cur[d] != read[d] {
			keys, args, ids = append(keys, distinct[d]), append(args, read[d], cur[d]), append(ids, d)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	calls, idx := s.calls(keys, args)
	cmds, err := s.runScript(ctx, compareAndSet, calls)
	if err != nil {
		return nil, err
	}
	var changed []int
	for c, cmd := range cmds {
		positions, err := cmd.Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("read the answer of the %s script: %w", compareAndSet.name, err)
		}
		for _, p := range positions {
			if p < 1 || int(p) > len(idx[c]) {
				return nil, fmt.Errorf("the %s script answered key %d of %d", compareAndSet.name, p, len(idx[c]))
			}
			changed = append(changed, ids[idx[c][p-1]])
		}
	}
	return changed, nil
}

// wait waits before attempt (from 2) of an Update, a random time up to
// 100µs doubled with each attempt before, at most updateBackoff, or until
// ctx ends.
func wait(ctx context.Context, attempt int) error {
	limit := min(100*time.Microsecond<<min(attempt-2, 16), updateBackoff)
	t := time.NewTimer(rand.N(limit))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
