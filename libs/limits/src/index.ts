export {
  GIB,
  MAX_FILE_LENGTH,
  MAX_PART_SIZE,
  MAX_PARTS,
  MAX_PARTS_PER_REQUEST,
  MIB,
  MIN_PART_SIZE,
  SHA256_BLOCK,
} from './upload-limits.js';
