// KooDrive's limits (API.md, "Limits").
export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;
export const MAX_FILE_LENGTH = 200 * GIB;
export const MIN_PART_SIZE = 5 * MIB;
export const MAX_PART_SIZE = 5 * GIB;
export const MAX_PARTS = 10_000;
// a body holds at most 64 KiB, far fewer parts than this
export const MAX_PARTS_PER_REQUEST = 1_000;
// parallel mode: every part but the last is whole SHA-256 blocks
export const SHA256_BLOCK = 64;
