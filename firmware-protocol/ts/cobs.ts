/**
 * Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999). Encoded data holds no 0x00, so 0x00
 * delimits frames on the wire. Overhead: at most one byte per 254 bytes of input, plus one.
 */

/** Worst-case encoded length (without the delimiter) for `length` input bytes. */
export function cobsMaxEncodedLength(length: number): number {
  return length + Math.ceil(length / 254) + (length % 254 === 0 ? 1 : 0);
}

/**
 * Encodes `src[start, end)` into `dst` at `dstOffset`. `dst` must have room for
 * `cobsMaxEncodedLength(end - start)` bytes. Returns the number of bytes written (no delimiter).
 */
export function cobsEncodeInto(
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
  dstOffset: number,
): number {
  let codeIndex = dstOffset;
  let out = dstOffset + 1;
  let code = 1;
  for (let i = start; i < end; i++) {
    const byte = src[i];
    if (byte === 0) {
      dst[codeIndex] = code;
      codeIndex = out++;
      code = 1;
    } else {
      dst[out++] = byte;
      code++;
      if (code === 0xff) {
        dst[codeIndex] = code;
        codeIndex = out++;
        code = 1;
      }
    }
  }
  dst[codeIndex] = code;
  return out - dstOffset;
}

/** Encodes a whole buffer; returns a new array (no delimiter). */
export function cobsEncode(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(cobsMaxEncodedLength(src.length));
  const n = cobsEncodeInto(src, 0, src.length, dst, 0);
  return dst.subarray(0, n);
}

/**
 * Decodes `src[start, end)` (no delimiter) into `dst`. Returns the decoded length, or -1 when the
 * input is not valid COBS (a zero byte inside, or a code byte pointing past the end), or -2 when the
 * decoded data would not fit in `dst`.
 */
export function cobsDecodeInto(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  let out = 0;
  let i = start;
  const capacity = dst.length;
  while (i < end) {
    const code = src[i];
    if (code === 0) return -1;
    const blockEnd = i + code;
    if (blockEnd > end) return -1;
    i++;
    if (out + (blockEnd - i) > capacity) return -2;
    for (; i < blockEnd; i++) {
      const byte = src[i];
      if (byte === 0) return -1;
      dst[out++] = byte;
    }
    if (code !== 0xff && i < end) {
      if (out >= capacity) return -2;
      dst[out++] = 0;
    }
  }
  return out;
}

/** Decodes a whole buffer; throws RangeError on invalid input. */
export function cobsDecode(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(src.length);
  const n = cobsDecodeInto(src, 0, src.length, dst);
  if (n < 0) throw new RangeError('invalid COBS data');
  return dst.subarray(0, n);
}
