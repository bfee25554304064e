/**
 * gridloop firmware protocol — TypeScript codec (pure functions over Uint8Array, no I/O).
 * The byte-level contract is `firmware-protocol/SPEC.md`; the C library in `../c/` mirrors it.
 *
 * Encode:  `encodeFrame(message, { seq, deviceId, signing? }) → Uint8Array` (COBS-stuffed, ends with
 *          the 0x00 delimiter, ready for `port.write`). `encodeFrameInto` writes into your buffer.
 * Decode:  `const d = new Deframer({ authenticator? }); for (const ev of d.push(chunk)) …` — each
 *          event is `{ ok: true, frame }` (frame.message is a typed `Message`, discriminated by
 *          `type`) or `{ ok: false, error }` (a `FrameError` with `code`, `streamOffset`, and the
 *          header when known). `d.stats` counts frames and errors by code.
 *          Hot path (a receive loop that only counts bad frames): `d.feed(chunk, { frame, reject })`
 *          hands each rejection over as a `FrameRejection` written in place (code, offset, header,
 *          figures) — no allocation, no stack trace; `rejection.toError()` when a person reads it.
 *          `decodeFrame(bytes)` decodes one frame and throws `FrameError`.
 * Signing: `new SignatureVerifier({ keyFor: id => ({ key, required }) , now })` as the deframer's
 *          `authenticator`; sign with `encodeFrame(m, { …, signing: { key, linkId, timestamp } })`.
 */
export * from './cobs.ts';
export * from './constants.ts';
export * from './crc32c.ts';
export * from './deframer.ts';
export * from './errors.ts';
export * from './frame.ts';
export * from './messages/alarm.ts';
export * from './messages/control.ts';
export * from './messages/hello.ts';
export * from './messages/index.ts';
export * from './messages/link.ts';
export * from './messages/measurement.ts';
export * from './signing.ts';
export * from './validate.ts';
export * from './wire-time.ts';
