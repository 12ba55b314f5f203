package protolen

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestOpenClose writes fields of every length class around the varint
// boundaries and checks them against protowire's own length-first encoding.
func TestOpenClose(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 129, 16383, 16384, 1 << 21, 1<<21 + 5} {
		contents := bytes.Repeat([]byte{0xab}, n)
		want := protowire.AppendTag([]byte("prefix"), 7, protowire.BytesType)
		want = protowire.AppendBytes(want, contents)

		got, start := Open([]byte("prefix"), 7)
		got = append(got, contents...)
		got = Close(got, start)
		if !bytes.Equal(got, want) {
			t.Errorf("length %d: got %d bytes, want %d (first bytes %x, want %x)", n, len(got), len(want), got[:min(len(got), 12)], want[:min(len(want), 12)])
		}
	}
}
