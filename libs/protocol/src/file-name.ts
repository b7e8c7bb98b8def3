// KooDrive's fileName rules (API.md, create) and this service's additions: a name is stored NFC, and
// characters that hide or reorder what a reader sees (controls, bidi, zero-width) are refused.

export type FileNameCheck =
  { readonly ok: true; readonly name: string } | { readonly ok: false; readonly reason: string };

export const MAX_FILE_NAME_LENGTH = 250;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const FORBIDDEN = /[<>|:"*?/\\]/;
// C0, DEL and C1 controls; the bidi marks (ALM, LRM, RLM), embeddings, overrides and isolates;
// zero-width space, joiners, word joiner and the BOM
const INVISIBLE = /[\u0000-\u001F\u007F-\u009F\u061C\u200B-\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/;

export function checkFileName(name: unknown): FileNameCheck {
  if (typeof name !== 'string') {
    return { ok: false, reason: 'must be a string' };
  }
  // before NFC, which would carry a lone surrogate through unchanged
  if (LONE_SURROGATE.test(name)) {
    return { ok: false, reason: 'must be valid Unicode (no lone surrogates)' };
  }
  // checked as stored; NFC can lengthen a name (U+0958 becomes two code units)
  const nfc = name.normalize('NFC');
  if (nfc.length < 1 || nfc.length > MAX_FILE_NAME_LENGTH) {
    return { ok: false, reason: `must be 1-${MAX_FILE_NAME_LENGTH} characters` };
  }
  if (FORBIDDEN.test(nfc)) {
    return { ok: false, reason: 'must not contain <>|:"*?/\\' };
  }
  if (INVISIBLE.test(nfc)) {
    return { ok: false, reason: 'must not contain control, bidirectional or zero-width characters' };
  }
  if (nfc === '.' || nfc === '..') {
    return { ok: false, reason: 'must not be . or ..' };
  }
  return { ok: true, name: nfc };
}
