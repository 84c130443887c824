package main

import (
	"math/bits"
	"time"
)

// histogram counts latencies in log-linear buckets: each power of two is
// split in subBuckets, so a quantile is within about 3% of the truth, and
// recording one costs a few instructions and no allocation.
type histogram struct {
	counts [64 * subBuckets]int64
	total  int64
}

const (
	subBits    = 5
	subBuckets = 1 << subBits
)

func bucket(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [subBuckets, 2*subBuckets)
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketMid returns the middle of bucket i's range.
func bucketMid(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	shift := i/subBuckets - 1
	low := uint64(i%subBuckets+subBuckets) << shift
	return low + (uint64(1)<<shift)/2
}

func (h *histogram) add(d time.Duration) {
	h.counts[bucket(uint64(max(d, 0)))]++
	h.total++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the latency that a fraction q of the samples do not
// exceed, or 0 with no samples.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := max(int64(q*float64(h.total)+0.5), 1)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(bucketMid(i))
		}
	}
	return 0
}
