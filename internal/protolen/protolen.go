// Package protolen writes length-delimited protobuf fields whose length is
// not known until their contents are written, in one pass: Open keeps one
// byte for the length, and Close writes it, moving the contents in the rare
// case that the length needs more bytes.
package protolen

import "google.golang.org/protobuf/encoding/protowire"

// Open appends the tag of length-delimited field num and one byte for its
// length, and returns where the field's contents start.
func Open(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return append(b, 0), len(b) + 1
}

// Close writes the length of the field whose contents, appended since Open,
// start at start.
func Close(b []byte, start int) []byte {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	var room [9]byte
	extra := protowire.SizeVarint(uint64(n)) - 1
	b = append(b, room[:extra]...)
	copy(b[start+extra:], b[start:start+n])
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}
