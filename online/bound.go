package online

import (
	"context"
	"errors"
	"fmt"
	"time"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// Bound returns s with each call bounded by d, within the caller's own
// deadline: a call that d cuts short fails with an error wrapping
// ErrTimeout (and so ErrUnavailable), so that a backend that
// hangs fails calls after d as one that is down does. A call whose own
// deadline comes first is left to it and fails, when it passes, as before.
// Close is not bounded. d <= 0 returns s itself.
//
// The returned store reads and writes encoded rows through s's own methods
// when s has them (ReadEncoded, WriteEncoded), updates records through s's
// Update (see Updater; an error wrapping errors.ErrUnsupported when s has
// none), and pings s when s can (Ping); it is safe for concurrent use when
// s is.
func Bound(s Store, d time.Duration) Store {
	if d <= 0 {
		return s
	}
	return &bounded{store: s, d: d}
}

// bounded is a store whose calls are bounded by d.
type bounded struct {
	store Store
	d     time.Duration
}

var (
	_ Store         = (*bounded)(nil)
	_ EncodedReader = (*bounded)(nil)
	_ EncodedWriter = (*bounded)(nil)
	_ Updater       = (*bounded)(nil)
)

// errBound is the cause of a call's context that its bound ended.
var errBound = errors.New("online: call bound passed")

// bound returns ctx bounded by b.d, or ctx itself when its own deadline
// comes first, and the function that releases it.
func (b *bounded) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= b.d {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, b.d, errBound)
}

// check returns err, of a call made with bctx (bound made it of ctx), marked
// ErrTimeout when the bound ended the call.
func (b *bounded) check(ctx, bctx context.Context, err error) error {
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(bctx), errBound) {
		return fmt.Errorf("%w (%v): %w", ErrTimeout, b.d, err)
	}
	return err
}

func (b *bounded) Read(ctx context.Context, lookups []Lookup) ([]Record, error) {
	bctx, cancel := b.bound(ctx)
	defer cancel()
	recs, err := b.store.Read(bctx, lookups)
	return recs, b.check(ctx, bctx, err)
}

func (b *bounded) ReadEncoded(ctx context.Context, lookups []Lookup) ([]string, error) {
	bctx, cancel := b.bound(ctx)
	defer cancel()
	encoded, err := ReadEncoded(bctx, b.store, lookups)
	return encoded, b.check(ctx, bctx, err)
}

func (b *bounded) Write(ctx context.Context, view View, rows []Row) error {
	bctx, cancel := b.bound(ctx)
	defer cancel()
	return b.check(ctx, bctx, b.store.Write(bctx, view, rows))
}

func (b *bounded) WriteEncoded(ctx context.Context, view View, rows []EncodedRow) error {
	bctx, cancel := b.bound(ctx)
	defer cancel()
	return b.check(ctx, bctx, WriteEncoded(bctx, b.store, view, rows))
}

func (b *bounded) Update(ctx context.Context, view View, keys [][]*almanacv1.Value, fn func(i int, old string) (string, error)) error {
	u, ok := b.store.(Updater)
	if !ok {
		return fmt.Errorf("update view %q: the online store (%T) cannot update records: %w", view.Name, b.store, errors.ErrUnsupported)
	}
	bctx, cancel := b.bound(ctx)
	defer cancel()
	return b.check(ctx, bctx, u.Update(bctx, view, keys, fn))
}

// Ping asks s whether its backend answers, when s can tell; otherwise it
// returns nil.
func (b *bounded) Ping(ctx context.Context) error {
	p, ok := b.store.(interface{ Ping(context.Context) error })
	if !ok {
		return nil
	}
	bctx, cancel := b.bound(ctx)
	defer cancel()
	return b.check(ctx, bctx, p.Ping(bctx))
}

func (b *bounded) Close() error { return b.store.Close() }
