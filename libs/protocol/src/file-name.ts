// KooDrive's fileName rules (API.md, create) and this service's additions: a name is stored NFC, and
// characters that hide or reorder what a reader sees (controls, bidi, zero-width) are refused.

export type FileNameCheck =
  { readonly ok: true; readonly name: string } | { readonly ok: false; readonly reason: string };

export const MAX_FILE_NAME_LENGTH = 250;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const FORBIDDEN = /[<>|:"*?/\\]/;
// C0, DEL and C1 controls; bidi embeddings, overrides and isolates (they reorder what follows:
// "txt.exe" shown as "exe.txt"); zero-width space, non-joiner, joiner, word joiner and the BOM.
// The bidi marks (LRM, RLM, ALM) stay allowed: they set the direction of one neutral character,
// and Hebrew and Arabic names carry them.
const INVISIBLE = /[\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/;
// a zero-width joiner inside an emoji sequence (👨‍👩‍👧) joins pictographs, hiding nothing
const EMOJI_JOINER = /(?<=\p{Extended_Pictographic}\uFE0F?)\u200D(?=\p{Extended_Pictographic})/gu;

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
  if (INVISIBLE.test(nfc.replace(EMOJI_JOINER, ''))) {
    return { ok: false, reason: 'must not contain control, bidirectional or zero-width characters' };
  }
  if (nfc === '.' || nfc === '..') {
    return { ok: false, reason: 'must not be . or ..' };
  }
  return { ok: true, name: nfc };
}
