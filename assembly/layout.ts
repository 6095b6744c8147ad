// Fixed layout of the low linear memory, below --memoryBase (scripts/build-wasm.ts passes
// LAYOUT_END). Fixed addresses let table lookups use a load's immediate offset instead of
// an add. AssemblyScript's own static data starts at LAYOUT_END; the JavaScript scratch
// region starts after __heap_base (assembly/scratch.ts).
//
//   [0, 1024)          unused (keeps address 0 out of every table)
//   [1024, 17408)      CRC32C slicing tables, 16 x 256 u32
//   [17408, 21504)     CRC32C 2-way join tables, 4 x 256 u32
//   [21504, 21632)     CRC32C join construction: images of the 32 unit vectors
//   [21632, 32768)     free
export const LAYOUT_CRC_SLICE: usize = 1024;
export const LAYOUT_CRC_SHIFT: usize = 17408;
export const LAYOUT_CRC_IMAGES: usize = 21504;
export const LAYOUT_END: usize = 32768;
