package server

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/almanac-fs/almanac/online"
)

// storeError maps an error of the online store (or of a Pusher) to a gRPC
// status. It is the one place where store errors become codes. Clients get
// a stable message that shows nothing of the backend (addresses, driver
// text): a server-side failure keeps err as its cause, which the server
// logs (see failure).
func storeError(ctx context.Context, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded while reading the online store")
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, online.ErrTimeout):
		return fail(codes.Unavailable, "online store did not answer in time; try again", err)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded while reading the online store")
	case errors.Is(err, online.ErrUnavailable):
		return fail(codes.Unavailable, "online store unavailable; try again", err)
	case errors.Is(err, online.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, online.ErrCorrupt):
		return fail(codes.DataLoss, "online store holds a corrupt record; the server's log names it", err)
	}
	return fail(codes.Internal, "internal error; the server's log has it", err)
}

// failure is a gRPC status for a failure on the server's side, with the
// error that caused it, which clients are not shown: the server logs it
// (logFailure). Its Error, for callers in the same process, holds both.
type failure struct {
	st    *status.Status
	cause error
}

func fail(code codes.Code, msg string, cause error) error {
	return &failure{st: status.New(code, msg), cause: cause}
}

func (f *failure) Error() string              { return f.st.Message() + ": " + f.cause.Error() }
func (f *failure) Unwrap() error              { return f.cause }
func (f *failure) GRPCStatus() *status.Status { return f.st }

// failureLog logs the causes of failures, at most one a second, so that an
// outage under load does not flood the log; each line says how many were
// left out before it. The zero value is ready to use.
type failureLog struct {
	next    atomic.Int64 // Unix ns before which nothing is logged
	skipped atomic.Int64
}

// logFailure logs the cause of err, when err is a failure, for method.
func (s *Server) logFailure(method string, err error) {
	var f *failure
	if !errors.As(err, &f) {
		return
	}
	now := time.Now()
	next := s.failures.next.Load()
	if now.UnixNano() < next || !s.failures.next.CompareAndSwap(next, now.Add(time.Second).UnixNano()) {
		s.failures.skipped.Add(1)
		return
	}
	s.log.Warn("request failed", "method", method, "code", f.st.Code().String(), "client_message", f.st.Message(),
		"err", f.cause, "failures_not_logged", s.failures.skipped.Swap(0))
}
