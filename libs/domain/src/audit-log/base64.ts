// Strict RFC 4648 §4 base64: Buffer.from(…, 'base64') silently skips junk, and signed formats
// must have exactly one encoding per byte string or two texts could carry "the same" signature.
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes canonical padded standard base64, or returns undefined. */
export function decodeStdBase64(text: string): Buffer | undefined {
  if (typeof text !== 'string' || !STD_BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Rejects non-zero padding bits, which the regex alone lets through.
  return bytes.toString('base64') === text ? bytes : undefined;
}
