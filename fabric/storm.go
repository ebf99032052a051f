package fabric

import "time"

// Storm control: a port's storm= (or the fabric's Config.Storm) limits the
// broadcast, multicast and unknown-unicast frames it may inject per second,
// with a token bucket applied where the fabric decides to flood, so that
// known unicast is never limited. Excess is dropped and counted as
// drop_storm on the port. A port without a limit has no bucket, and costs
// the forwarding path one nil check per flooded frame.

// stormBurst returns the bucket depth for a rate: a tenth of a second of
// frames, at least 8 and at most 1000, so a short burst (a host's ARP
// sweep after boot) passes and a storm is cut to the rate at once.
func stormBurst(pps int) int64 { return int64(min(max(pps/10, 8), 1000)) }

// maxStormIdle caps the time a bucket credits at once, so that the
// multiplication below cannot overflow.
const maxStormIdle = 10 * time.Second

// tokenBucket is one port's storm limiter. Only the port's reader
// goroutine uses it, so it has no lock. Tokens are counted in
// nanotokens (a frame costs 1e9) so that refilling is integer arithmetic.
type tokenBucket struct {
	rate   int64 // frames per second: nanotokens per nanosecond
	depth  int64 // nanotokens
	tokens int64 // nanotokens
	last   int64 // unix nanoseconds of the last refill
}

// newTokenBucket returns a full bucket for pps frames per second.
func newTokenBucket(pps int, now time.Time) *tokenBucket {
	d := stormBurst(pps) * int64(time.Second)
	return &tokenBucket{rate: int64(pps), depth: d, tokens: d, last: now.UnixNano()}
}

// allow takes one frame's token at time now (the batch's clock read), and
// reports whether there was one.
func (b *tokenBucket) allow(now int64) bool {
	if el := now - b.last; el > 0 {
		b.tokens += min(el, int64(maxStormIdle)) * b.rate
		b.tokens = min(b.tokens, b.depth)
		b.last = now
	}
	if b.tokens < int64(time.Second) {
		return false
	}
	b.tokens -= int64(time.Second)
	return true
}
