#!/usr/bin/env python3
"""Golden vectors for the gridloop firmware protocol, computed independently of both codecs.

Written by hand from SPEC.md with Python's struct, a bitwise CRC-32C, a textbook COBS and the
standard library's HMAC-SHA256. The TypeScript and C codecs must reproduce these bytes exactly.
It reads no file. In particular it must never read firmware-protocol/messages.yaml (the layouts'
definition) or anything generated from it (the codecs' message modules, glp.h, SPEC.md's tables):
its layouts below are a second, hand-written reading of the specification, which is what makes
the vectors a check of the codecs (scripts/generate-protocol.test.ts keeps it so).
Run: python3 firmware-protocol/vectors/generate.py > firmware-protocol/vectors/frames.json
"""
import hashlib
import hmac
import json
import struct

VERSION = 1
SIGNED = 0x01

IDS = {"HELLO": 1, "MEASUREMENT": 2, "DEVICE_STATE": 3, "SETPOINT": 4, "CONFIG": 5,
       "HEARTBEAT": 6, "TIME_SYNC": 7, "ALARM": 8, "ACK": 9, "NACK": 10}


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def cobs(data: bytes) -> bytes:
    out = bytearray()
    block = bytearray()
    for b in data:
        if b == 0:
            out.append(len(block) + 1)
            out += block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out.append(255)
                out += block
                block = bytearray()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


# Cheshire & Baker / Wikipedia examples
assert cobs(b"\x00") == b"\x01\x01"
assert cobs(b"\x00\x00") == b"\x01\x01\x01"
assert cobs(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
assert cobs(b"\x11\x22\x33\x44") == b"\x05\x11\x22\x33\x44"
assert cobs(b"\x11\x00\x00\x00") == b"\x02\x11\x01\x01\x01"


def payload(m: dict) -> bytes:
    t = m["type"]
    if t == "HELLO":
        return struct.pack("<8BI6fI", m["deviceType"], m["protocolMajor"], m["protocolMinor"],
                           m["firmwareMajor"], m["firmwareMinor"], m["firmwarePatch"], m["linkFlags"],
                           m["ieee1547Categories"], m["functions"], m["ratedActivePowerW"],
                           m["ratedReactivePowerVar"], m["ratedApparentPowerVa"], m["ratedEnergyWh"],
                           m["nominalVoltageV"], m["nominalFrequencyHz"], m["serialNumber"])
    if t == "MEASUREMENT":
        return struct.pack("<Id4f", m["step"], m["twinTimeS"], m["voltagePu"], m["voltageAngleRad"],
                           m["frequencyHz"], m["rocofHzPerS"])
    if t == "DEVICE_STATE":
        return struct.pack("<I3f4B2I", m["step"], m["activePowerW"], m["reactivePowerVar"],
                           m["stateOfCharge"], m["mode"], m["inverterState"], m["chargeState"], 0,
                           m["inverterAlarms"], m["bmsEvents"])
    if t == "SETPOINT":
        return struct.pack("<H2BI5f", m["fields"], m["mode"], 0, m["enabledFunctions"], m["activePowerW"],
                           m["reactivePowerVar"], m["activePowerMaxW"], m["activePowerMinW"],
                           m["reactivePowerMaxVar"])
    if t == "CONFIG":
        return struct.pack("<H2B2f4f4f2fI", m["fields"], m["ieee1547Category"], 0, m["droopPu"],
                           m["frequencyDeadbandHz"], *m["voltVarVoltagesPu"], *m["voltVarReactivePu"],
                           m["stateOfChargeMin"], m["stateOfChargeMax"], m["watchdogMs"])
    if t == "HEARTBEAT":
        return struct.pack("<4I4B", m["uptimeMs"], m["rxFrames"], m["rxErrors"], m["txFrames"], m["state"], 0, 0, 0)
    if t == "TIME_SYNC":
        return struct.pack("<4B3Q", m["phase"], 0, 0, 0, int(m["originUs"]), int(m["receiveUs"]),
                           int(m["transmitUs"]))
    if t == "ALARM":
        text = m["text"].encode("ascii")[:24].ljust(24, b"\x00")
        return struct.pack("<2BH2IfI", m["severity"], m["source"], m["code"], m["inverterAlarms"],
                           m["bmsEvents"], m["value"], m["uptimeMs"]) + text
    if t == "ACK":
        return struct.pack("<2BH", m["messageId"], 0, m["seq"])
    if t == "NACK":
        return struct.pack("<2BHI", m["messageId"], m["reason"], m["seq"], m["detail"])
    raise ValueError(t)


def raw_frame(m: dict, seq: int, device_id: int, compat: int = 0, signing=None) -> bytes:
    p = payload(m)
    header = struct.pack("<4BHHB", VERSION, SIGNED if signing else 0, compat, IDS[m["type"]], seq, device_id, len(p))
    body = header + p
    if signing:
        key = bytes.fromhex(signing["keyHex"])
        block = bytes([signing["linkId"]]) + signing["timestamp"].to_bytes(6, "little")
        mac = hmac.new(key, body + block, hashlib.sha256).digest()[:6]
        body += block + mac
    return body + struct.pack("<I", crc32c(body))


KEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
KEY2 = "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff"

MESSAGES = [
    ("hello-battery", 0, 3, 0, None, {
        "type": "HELLO", "deviceType": 2, "protocolMajor": 1, "protocolMinor": 0, "firmwareMajor": 0,
        "firmwareMinor": 1, "firmwarePatch": 0, "linkFlags": 0, "ieee1547Categories": 0x42, "functions": 0x1D,
        "ratedActivePowerW": 5000.0, "ratedReactivePowerVar": 5000.0, "ratedApparentPowerVa": 5000.0,
        "ratedEnergyWh": 10000.0, "nominalVoltageV": 230.0, "nominalFrequencyHz": 50.0,
        "serialNumber": 0x42A77E01}),
    ("measurement-nominal", 1, 3, 0, None, {
        "type": "MEASUREMENT", "step": 1, "twinTimeS": 0.001, "voltagePu": 1.0, "voltageAngleRad": 0.0,
        "frequencyHz": 50.0, "rocofHzPerS": 0.0}),
    ("measurement-underfrequency", 0xFFFF, 0xFFFF, 0, None, {
        "type": "MEASUREMENT", "step": 4294967295, "twinTimeS": 123456.789, "voltagePu": 0.96875,
        "voltageAngleRad": -0.125, "frequencyHz": 49.75, "rocofHzPerS": -0.5}),
    ("device-state-discharging", 2, 3, 0, None, {
        "type": "DEVICE_STATE", "step": 1, "activePowerW": 1250.5, "reactivePowerVar": -100.25,
        "stateOfCharge": 0.75, "mode": 1, "inverterState": 3, "chargeState": 3, "inverterAlarms": 0,
        "bmsEvents": (1 << 14) | (1 << 6)}),
    ("setpoint-all-fields", 7, 3, 1, None, {
        "type": "SETPOINT", "fields": 0x3F, "mode": 2, "enabledFunctions": 0x0D, "activePowerW": -2000.0,
        "reactivePowerVar": 500.0, "activePowerMaxW": 4000.0, "activePowerMinW": -4000.0,
        "reactivePowerMaxVar": 2200.0}),
    ("config-category-b", 8, 9, 0, None, {
        "type": "CONFIG", "fields": 0x1F, "ieee1547Category": 0x22, "droopPu": 0.05,
        "frequencyDeadbandHz": 0.036, "voltVarVoltagesPu": [0.92, 0.98, 1.02, 1.08],
        "voltVarReactivePu": [0.44, 0.0, 0.0, -0.44], "stateOfChargeMin": 0.1, "stateOfChargeMax": 0.9,
        "watchdogMs": 2000}),
    ("heartbeat", 300, 3, 0, None, {
        "type": "HEARTBEAT", "uptimeMs": 123456, "rxFrames": 1000, "rxErrors": 2, "txFrames": 1003, "state": 3}),
    ("time-sync-response", 301, 3, 0, None, {
        "type": "TIME_SYNC", "phase": 1, "originUs": "1700000000000000", "receiveUs": "5000123",
        "transmitUs": "5000150"}),
    ("alarm-bms", 302, 3, 0, None, {
        "type": "ALARM", "severity": 2, "source": 2, "code": 1, "inverterAlarms": 0, "bmsEvents": 1 << 14,
        "value": 0.0999755859375, "uptimeMs": 60000, "text": "SoC below minimum"}),
    ("ack-setpoint", 303, 3, 0, None, {"type": "ACK", "messageId": 4, "seq": 7}),
    ("nack-out-of-range", 304, 3, 0, None, {"type": "NACK", "messageId": 4, "reason": 3, "seq": 8, "detail": 1}),
    ("measurement-signed", 5, 3, 0, {"keyHex": KEY, "linkId": 1, "timestamp": 37500000000123}, {
        "type": "MEASUREMENT", "step": 5, "twinTimeS": 0.005, "voltagePu": 1.015625, "voltageAngleRad": 0.0625,
        "frequencyHz": 50.0625, "rocofHzPerS": 0.25}),
    ("device-state-signed", 6, 3, 0, {"keyHex": KEY2, "linkId": 0, "timestamp": 0xFFFFFFFFFFFF}, {
        "type": "DEVICE_STATE", "step": 5, "activePowerW": -5000.0, "reactivePowerVar": 0.0,
        "stateOfCharge": 0.5, "mode": 2, "inverterState": 4, "chargeState": 4, "inverterAlarms": 1 << 8,
        "bmsEvents": 0}),
]


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def round_floats(m: dict) -> dict:
    """The message as a decoder reports it: float32 fields rounded to float32."""
    float64 = {"twinTimeS"}
    out = {}
    for k, v in m.items():
        if isinstance(v, float) and k not in float64:
            out[k] = f32(v)
        elif isinstance(v, list):
            out[k] = [f32(x) for x in v]
        else:
            out[k] = v
    return out


def main() -> None:
    frames = []
    for name, seq, dev, compat, signing, m in MESSAGES:
        raw = raw_frame(m, seq, dev, compat, signing)
        wire = cobs(raw) + b"\x00"
        frames.append({"name": name, "seq": seq, "deviceId": dev, "compatFlags": compat, "signing": signing,
                       "message": round_floats(m), "raw": raw.hex(), "wire": wire.hex()})

    meas = MESSAGES[1][5]
    good = raw_frame(meas, 1, 3)
    flipped = bytearray(good)
    flipped[12] ^= 0x01
    v2 = bytearray(good[:-4])
    v2[0] = 2
    v2 += struct.pack("<I", crc32c(bytes(v2)))
    unknown_flag = bytearray(good[:-4])
    unknown_flag[1] = 0x80
    unknown_flag += struct.pack("<I", crc32c(bytes(unknown_flag)))
    unknown_id = bytearray(good[:-4])
    unknown_id[3] = 0x7F
    unknown_id += struct.pack("<I", crc32c(bytes(unknown_id)))
    bad_len = bytearray(good[:-4])
    bad_len[8] = 27
    bad_len += struct.pack("<I", crc32c(bytes(bad_len)))
    short_payload = struct.pack("<4BHHB", 1, 0, 0, 2, 1, 3, 4) + b"\x01\x02\x03\x04"
    short_payload += struct.pack("<I", crc32c(short_payload))
    longer = struct.pack("<4BHHB", 1, 0, 0, 2, 1, 3, 32) + payload(meas) + b"\xAA\xBB\xCC\xDD"
    longer += struct.pack("<I", crc32c(longer))
    bad = [
        {"name": "crc-bit-flip", "wire": (cobs(bytes(flipped)) + b"\x00").hex(), "error": "CRC_MISMATCH"},
        {"name": "version-2", "wire": (cobs(bytes(v2)) + b"\x00").hex(), "error": "BAD_VERSION"},
        {"name": "unknown-incompat-flag", "wire": (cobs(bytes(unknown_flag)) + b"\x00").hex(),
         "error": "UNKNOWN_INCOMPAT_FLAG"},
        {"name": "unknown-message-id", "wire": (cobs(bytes(unknown_id)) + b"\x00").hex(), "error": "UNKNOWN_MESSAGE"},
        {"name": "length-field-mismatch", "wire": (cobs(bytes(bad_len)) + b"\x00").hex(), "error": "LENGTH_MISMATCH"},
        {"name": "payload-too-short", "wire": (cobs(short_payload) + b"\x00").hex(), "error": "PAYLOAD_TOO_SHORT"},
        {"name": "too-short", "wire": (cobs(b"\x01\x00\x00\x02\x01") + b"\x00").hex(), "error": "TOO_SHORT"},
        {"name": "cobs-code-past-end", "wire": "0511223300", "error": "COBS_INVALID"},
    ]
    compatible = [
        {"name": "longer-payload-from-newer-minor-version", "wire": (cobs(longer) + b"\x00").hex(),
         "message": round_floats(meas)},
    ]
    cobs_cases = [bytes.fromhex(h) for h in ["", "00", "0000", "11220033", "11223344", "11000000"]]
    cobs_cases += [bytes(range(1, 255)), bytes(range(0, 255)), bytes(range(1, 256)), bytes(range(2, 256)) + b"\x00"]
    doc = {
        "description": "gridloop firmware protocol golden vectors (generated by generate.py, independent of both codecs)",
        "protocolVersion": VERSION,
        "crc32c": [{"ascii": "123456789", "crc": "e3069283"}, {"ascii": "", "crc": f"{crc32c(b''):08x}"},
                   {"ascii": "gridloop", "crc": f"{crc32c(b'gridloop'):08x}"}],
        "cobs": [{"decoded": c.hex(), "encoded": cobs(c).hex()} for c in cobs_cases],
        "hmacSha256": [{"keyHex": KEY, "dataHex": b"gridloop".hex(),
                        "macHex": hmac.new(bytes.fromhex(KEY), b"gridloop", hashlib.sha256).hexdigest()}],
        "frames": frames,
        "bad": bad,
        "compatible": compatible,
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
