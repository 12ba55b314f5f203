package server

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/protolen"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// Lookups are answered without building a response message. A 100-entity
// lookup of 50 features is 5,000 values, statuses and event times: decoded
// into messages that is thousands of small objects for the garbage collector,
// and a generic marshaling pass that took about 40% of the server's CPU.
// Instead the GetOnlineFeatures handler returns the *reply itself, whose
// values the online codec has transcoded straight from the stored records,
// and the server's codec writes its wire form here, in one pass, into a
// pooled buffer. Every other message goes through grpc-go's proto codec.
//
// The bytes are the proto3 encoding of almanac.v1.GetOnlineFeaturesResponse,
// what proto.Marshal makes of the same response (TestWireMatchesMessage).

// Field numbers of the messages written here (serving.proto and
// google/protobuf/timestamp.proto).
const (
	responseMetadata     protowire.Number = 1
	responseResults      protowire.Number = 2
	metadataFeatureNames protowire.Number = 1
	featureListVal       protowire.Number = 1
	vectorValues         protowire.Number = 1
	vectorStatuses       protowire.Number = 2
	vectorEventTimes     protowire.Number = 3
	timestampSeconds     protowire.Number = 1
	timestampNanos       protowire.Number = 2
)

// appendWire appends the wire form of the reply, a GetOnlineFeaturesResponse.
func (r *reply) appendWire(b []byte) ([]byte, error) {
	b, md := protolen.Open(b, responseMetadata)
	b, names := protolen.Open(b, metadataFeatureNames)
	for _, n := range r.names.GetVal() {
		b = protowire.AppendTag(b, featureListVal, protowire.BytesType)
		b = protowire.AppendString(b, n)
	}
	b = protolen.Close(b, names)
	b = protolen.Close(b, md)

	// The event time field of each record, which the columns of its fields
	// share; columns without a record have an empty one.
	a := r.buffers
	stamps := a.stamps[:0]
	stampEnds := sized(a.stampEnds, len(r.times)+1)
	stampEnds[0] = 0
	for k, t := range r.times {
		var ts int
		stamps, ts = protolen.Open(stamps, vectorEventTimes)
		if !t.IsZero() {
			if s := t.Unix(); s != 0 {
				stamps = protowire.AppendTag(stamps, timestampSeconds, protowire.VarintType)
				stamps = protowire.AppendVarint(stamps, uint64(s))
			}
			if ns := t.Nanosecond(); ns != 0 {
				stamps = protowire.AppendTag(stamps, timestampNanos, protowire.VarintType)
				stamps = protowire.AppendVarint(stamps, uint64(ns))
			}
		}
		stamps = protolen.Close(stamps, ts)
		stampEnds[k+1] = len(stamps)
	}
	noStamp, _ := protolen.Open(nil, vectorEventTimes)

	// Each column is written in one pass, its length after it: its
	// contents then move up by the length's extra bytes (protolen.Close),
	// which costs less than a first pass sizing it. The pass keeps the
	// status and record of each row for the statuses and event times that
	// follow the values.
	sts := sized(a.sts, r.rows)
	recs := sized(a.recs, r.rows)
	a.stamps, a.stampEnds, a.sts, a.recs = stamps, stampEnds, sts, recs
	perRow := len(r.plan.views) // records per entity row
	for c := range r.columns() {
		var vec int
		b, vec = protolen.Open(b, responseResults)
		if c < len(r.keys) {
			for i, key := range r.keys[c] {
				sts[i], recs[i] = byte(almanacv1.FieldStatus_PRESENT), -1
				b = protowire.AppendTag(b, vectorValues, protowire.BytesType)
				b = protowire.AppendVarint(b, uint64(proto.Size(key)))
				var err error
				if b, err = (proto.MarshalOptions{}).MarshalAppend(b, key); err != nil {
					return nil, fmt.Errorf("encode entity key %q: %w", r.names.GetVal()[c], err)
				}
			}
		} else {
			col := r.plan.columns[c-len(r.keys)]
			for i := range r.rows {
				k := i*perRow + col.record
				st, v := r.states[k], []byte(nil)
				if st == almanacv1.FieldStatus_PRESENT {
					if v = r.value(k, col.field); len(v) == 0 {
						st = almanacv1.FieldStatus_NULL_VALUE
					}
				}
				sts[i], recs[i] = byte(st), k // every FieldStatus fits in one byte
				b = protowire.AppendTag(b, vectorValues, protowire.BytesType)
				b = protowire.AppendBytes(b, v)
			}
		}
		if r.rows > 0 {
			b = protowire.AppendTag(b, vectorStatuses, protowire.BytesType)
			b = protowire.AppendBytes(b, sts) // packed
		}
		for _, k := range recs {
			if k < 0 {
				b = append(b, noStamp...)
			} else {
				b = append(b, stamps[stampEnds[k]:stampEnds[k+1]]...)
			}
		}
		b = protolen.Close(b, vec)
	}
	return b, nil
}

// codec is the server's gRPC codec: it writes replies with appendWire and
// hands every other message to grpc-go's proto codec.
type codec struct{ proto encoding.CodecV2 }

func newCodec() codec { return codec{proto: encoding.GetCodecV2(grpcproto.Name)} }

func (c codec) Name() string { return grpcproto.Name }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	r, ok := v.(*reply)
	if !ok {
		return c.proto.Marshal(v)
	}
	buf := replyBuffers.Get(0)
	b, err := r.appendWire(*buf)
	r.release()
	if err != nil {
		replyBuffers.Put(buf)
		return nil, err
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, &replyBuffers)}, nil
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

// replyBuffers keeps the buffers of written replies for the next ones, so
// that a steady load writes replies without allocating.
var replyBuffers bufferPool

// bufferPool is a mem.BufferPool of buffers of any capacity.
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get(length int) *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok && cap(*b) >= length {
		*b = (*b)[:length]
		return b
	}
	b := make([]byte, length)
	return &b
}

func (p *bufferPool) Put(b *[]byte) { p.pool.Put(b) }

// serviceDesc is the FeatureServer service with its GetOnlineFeatures
// handler answering with a *reply for the codec, not a message.
func serviceDesc() *grpc.ServiceDesc {
	d := almanacv1.FeatureServer_ServiceDesc
	d.Methods = append([]grpc.MethodDesc(nil), d.Methods...)
	for i := range d.Methods {
		if d.Methods[i].MethodName == "GetOnlineFeatures" {
			d.Methods[i].Handler = getOnlineFeaturesHandler
		}
	}
	return &d
}

func getOnlineFeaturesHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	req := new(almanacv1.GetOnlineFeaturesRequest)
	if err := dec(req); err != nil {
		return nil, err
	}
	handler := func(ctx context.Context, req any) (any, error) {
		r, err := srv.(*Server).lookup(ctx, req.(*almanacv1.GetOnlineFeaturesRequest))
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	if interceptor == nil {
		return handler(ctx, req)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: almanacv1.FeatureServer_GetOnlineFeatures_FullMethodName}
	return interceptor(ctx, req, info, handler)
}
