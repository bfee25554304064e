/**
 * Raw device-frame capture in the classic pcap format with nanosecond timestamps (magic
 * 0xa1b23c4d), link type LINKTYPE_USER0 (147), so Wireshark, tcpdump and libpcap open the file
 * (`frames.pcap.gz`). Each packet is one protocol frame exactly as it crossed the link, after a
 * small gridloop header:
 *
 *   byte 0      direction: 0 = rx (device → bench), 1 = tx (bench → device)
 *   byte 1      n = length of the device id in bytes (UTF-8), 1..255
 *   bytes 2..   device id, then the frame bytes
 *
 * Spec of the file format: https://www.tcpdump.org/manpages/pcap-savefile.5.txt
 */

export type FrameDirection = 'rx' | 'tx';

export interface CapturedFrameRecord {
  time_ns: bigint;
  direction: FrameDirection;
  deviceId: string;
  bytes: Uint8Array;
}

export const PCAP_NS_MAGIC = 0xa1b23c4d;
export const LINKTYPE_USER0 = 147;
const SNAPLEN = 65535;
const FILE_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;

/** The 24-byte pcap global header; written once at the start of the capture file. */
export function pcapFileHeader(): Uint8Array {
  const header = Buffer.alloc(FILE_HEADER_BYTES);
  header.writeUInt32LE(PCAP_NS_MAGIC, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeInt32LE(0, 8);
  header.writeUInt32LE(0, 12);
  header.writeUInt32LE(SNAPLEN, 16);
  header.writeUInt32LE(LINKTYPE_USER0, 20);
  return header;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes one captured frame as a pcap record (record header + packet). */
export function pcapRecord(direction: FrameDirection, deviceId: string, bytes: Uint8Array, time_ns: bigint) {
  const id = encoder.encode(deviceId);
  if (id.length === 0 || id.length > 255) {
    throw new RangeError(`device id '${deviceId}' must be 1..255 bytes of UTF-8 for the frame capture`);
  }
  const packetLength = 2 + id.length + bytes.length;
  if (packetLength > SNAPLEN) {
    throw new RangeError(`frame of ${bytes.length} bytes from '${deviceId}' exceeds the capture's snaplen`);
  }
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + packetLength);
  const seconds = time_ns / 1_000_000_000n;
  record.writeUInt32LE(Number(seconds), 0);
  record.writeUInt32LE(Number(time_ns - seconds * 1_000_000_000n), 4);
  record.writeUInt32LE(packetLength, 8);
  record.writeUInt32LE(packetLength, 12);
  record[16] = direction === 'tx' ? 1 : 0;
  record[17] = id.length;
  record.set(id, 18);
  record.set(bytes, 18 + id.length);
  return record;
}

/** Thrown for a capture that is not what the recorder writes; names the byte offset. */
export class CaptureFormatError extends Error {
  constructor(where: string, offset: number, why: string) {
    super(`${where}: byte ${offset}: ${why}`);
    this.name = 'CaptureFormatError';
  }
}

/**
 * Reads a capture written by the recorder. A record cut short at the end (the process was
 * killed mid-write) is reported in `truncatedBytes` instead of failing the whole read.
 */
export function parsePcap(
  data: Uint8Array,
  where = 'frames.pcap',
): { frames: CapturedFrameRecord[]; truncatedBytes: number } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const frames: CapturedFrameRecord[] = [];
  if (buf.length === 0) return { frames, truncatedBytes: 0 };
  if (buf.length < FILE_HEADER_BYTES) return { frames, truncatedBytes: buf.length };
  const magic = buf.readUInt32LE(0);
  if (magic !== PCAP_NS_MAGIC) {
    throw new CaptureFormatError(where, 0, `not a nanosecond pcap file (magic 0x${magic.toString(16)})`);
  }
  const linkType = buf.readUInt32LE(20);
  if (linkType !== LINKTYPE_USER0) {
    throw new CaptureFormatError(where, 20, `link type ${linkType} is not gridloop's (${LINKTYPE_USER0})`);
  }
  let offset = FILE_HEADER_BYTES;
  while (offset < buf.length) {
    if (buf.length - offset < RECORD_HEADER_BYTES) break;
    const seconds = buf.readUInt32LE(offset);
    const nanos = buf.readUInt32LE(offset + 4);
    const length = buf.readUInt32LE(offset + 8);
    if (nanos >= 1_000_000_000) throw new CaptureFormatError(where, offset + 4, `nanoseconds ${nanos} ≥ 1e9`);
    if (length < 3 || length > SNAPLEN) {
      throw new CaptureFormatError(where, offset + 8, `packet length ${length} out of range`);
    }
    if (buf.length - offset - RECORD_HEADER_BYTES < length) break;
    const p = offset + RECORD_HEADER_BYTES;
    const dir = buf[p];
    if (dir > 1) throw new CaptureFormatError(where, p, `direction byte ${dir} is neither 0 (rx) nor 1 (tx)`);
    const idLength = buf[p + 1];
    if (idLength === 0 || 2 + idLength > length) {
      throw new CaptureFormatError(where, p + 1, `device id length ${idLength} does not fit the packet`);
    }
    let deviceId: string;
    try {
      deviceId = decoder.decode(buf.subarray(p + 2, p + 2 + idLength));
    } catch {
      throw new CaptureFormatError(where, p + 2, 'device id is not UTF-8');
    }
    frames.push({
      time_ns: BigInt(seconds) * 1_000_000_000n + BigInt(nanos),
      direction: dir === 1 ? 'tx' : 'rx',
      deviceId,
      bytes: new Uint8Array(buf.subarray(p + 2 + idLength, p + length)),
    });
    offset = p + length;
  }
  return { frames, truncatedBytes: buf.length - offset };
}
