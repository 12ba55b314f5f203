package redis

import (
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// newerWins sets KEYS[i] to the encoded record ARGV[2i-1] when the record
// stored there is missing, of another version or schema, or not newer: the
// rule of online.Replaces, applied to the records' 13-byte headers, read as a
// version byte, a 32-bit schema hash and the event time in two unsigned
// 32-bit halves (big-endian, sign bit flipped, so they compare as the times
// do). ARGV[2i] is when the record expires, in ms since the Unix epoch, or 0
// for never. A key may come more than once: each row is compared with the
// record the rows before it left. It returns how many rows it stored.
//
// It reads every key with one MGET and stores the newer rows with one MSET,
// then sets their expiry, since each redis.call costs about as much as a
// command sent by a client.
var newerWins = &namedScript{goredis.NewScript(newerWinsSource), "newer-wins"}

// namedScript is a Lua script with the name its errors give it.
type namedScript struct {
	*goredis.Script
	name string
}

const newerWinsSource = `
local stored = redis.call('MGET', unpack(KEYS))
local newest = {}
local mset, expire, m, e = {}, {}, 0, 0
for i, key in ipairs(KEYS) do
  local rec = ARGV[2*i-1]
  local old = newest[key] or stored[i]
  local newer = true
  if old and #old >= 13 then
    local ov, os, oh, ol = struct.unpack('>BI4I4I4', old)
    local nv, ns, nh, nl = struct.unpack('>BI4I4I4', rec)
    newer = ov ~= nv or os ~= ns or nh > oh or (nh == oh and nl >= ol)
  end
  if newer then
    newest[key] = rec
    mset[m+1], mset[m+2], m = key, rec, m + 2
    e = e + 1
    expire[e] = i
  end
end
if m > 0 then
  redis.call('MSET', unpack(mset))
end
for j = 1, e do
  local i = expire[j]
  if ARGV[2*i] ~= '0' then
    redis.call('PEXPIREAT', KEYS[i], ARGV[2*i])
  end
end
return e
`

// compareAndSet sets KEYS[i] to ARGV[2i] when the value stored there is
// still ARGV[2i-1] ("" for none), as Update read it; the keys are distinct.
// It returns the positions (from 1) of the keys whose value changed
// meanwhile, which it left as they are. Comparing the values whole is exact
// and costs Redis one pass over each, less than the MGET that reads them.
// MSET, as SET, drops any expiry the keys had: updated records do not
// expire.
var compareAndSet = &namedScript{goredis.NewScript(compareAndSetSource), "compare-and-set"}

const compareAndSetSource = `
local stored = redis.call('MGET', unpack(KEYS))
local set, changed = {}, {}
for i, key in ipairs(KEYS) do
  if (stored[i] or '') ~= ARGV[2*i-1] then
    changed[#changed+1] = i
  else
    set[#set+1] = key
    set[#set+1] = ARGV[2*i]
  end
end
if #set > 0 then
  redis.call('MSET', unpack(set))
end
return changed
`

// keySlot returns the Redis Cluster slot of key: CRC16 of its hash tag (the
// part between the first '{' and the next '}', when not empty) or else of
// the whole key, modulo 16384.
func keySlot(key string) uint16 {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^key[i]]
	}
	return crc % 16384
}

// crc16Table is the table of CRC16-CCITT (XModem), the CRC of Redis Cluster.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()
