// KooDrive's limits (API.md, "Limits").
export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;
export const MAX_FILE_LENGTH = 200 * GIB;
export const MIN_PART_SIZE = 5 * MIB;
export const MAX_PART_SIZE = 5 * GIB;
export const MAX_PARTS = 10_000;
// create and uploadUrl may ask for every part of a file at once (a body of up to 4 MiB)
export const MAX_PARTS_PER_REQUEST = MAX_PARTS;
// the largest file uploadMode "put" takes: one part
export const MAX_PUT_LENGTH = MAX_PART_SIZE;
// parallel mode: every part but the last is whole SHA-256 blocks
export const SHA256_BLOCK = 64;
