// A `%XX` run is decoded as UTF-8 byte by byte so that one bad sequence leaves only
// itself literal; decodeURIComponent would throw on the whole string instead.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

function decodeUtf8(bytes: readonly number[]): string | undefined {
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

function decodeRun(run: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < run.length; i += 3) bytes.push(Number.parseInt(run.slice(i + 1, i + 3), 16));
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes[i] ?? 0xff);
    const decoded = length > 0 && i + length <= bytes.length ? decodeUtf8(bytes.slice(i, i + length)) : undefined;
    if (decoded === undefined) {
      out += run.slice(i * 3, i * 3 + 3);
      i += 1;
    } else {
      out += decoded;
      i += length;
    }
  }
  return out;
}

/**
 * Percent-decodes with decodeURIComponent semantics, but never throws: a `%` not followed
 * by two hex digits, and bytes that are not valid UTF-8, stay as written. `+` stays `+`.
 */
export function percentDecode(text: string): string {
  return text.includes('%') ? text.replace(/(?:%[0-9A-Fa-f]{2})+/g, decodeRun) : text;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** encodeURIComponent that replaces lone surrogates (which it would throw on) with U+FFFD. */
export function percentEncode(text: string): string {
  return encodeURIComponent(text.replace(LONE_SURROGATE, '\uFFFD'));
}

