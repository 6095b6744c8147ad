// Kafka offset index search (`.index` files): 8-byte entries, big-endian u32 relative
// offset then u32 position, ascending by relative offset.
//
// Returns the slot of the largest entry with relative offset <= target, or -1. Like
// Kafka's AbstractIndex, the warm tail (last 8 KiB = 1024 entries) is searched first when
// the target falls in it, so lookups near the end touch only the hot pages.
// Invariant: reads only [entries, entries + 8 * count).

const warmEntries: i32 = 1024;

// @ts-ignore: decorator
@inline
function relAt(entries: usize, slot: i32): u32 {
  return bswap<u32>(load<u32>(entries + (<usize>slot << 3)));
}

// @ts-ignore: decorator
@inline
function searchRange(entries: usize, lo: i32, hi: i32, target: u32): i32 {
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (relAt(entries, mid) <= target) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function lookup(entries: usize, count: i32, target: u32): i32 {
  if (count == 0) return -1;
  const warmFirst = count > warmEntries ? count - warmEntries : 0;
  if (relAt(entries, warmFirst) <= target) return searchRange(entries, warmFirst, count - 1, target);
  if (relAt(entries, 0) > target) return -1;
  return searchRange(entries, 0, warmFirst, target);
}

/** One target (0 .. 2^32 - 1; the wrapper maps negatives to -1 itself). */
export function indexLookup(entries: usize, count: i32, target: u32): i32 {
  return lookup(entries, count, target);
}

/** Many targets: u32[n] at `targets`, slots i32[n] written at `out`. */
export function indexLookupMany(entries: usize, count: i32, targets: usize, n: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    const slot = <usize>i << 2;
    store<i32>(out + slot, lookup(entries, count, load<u32>(targets + slot)));
  }
}
