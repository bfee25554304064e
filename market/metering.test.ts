import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { commitmentOf, MeterRegister, signReading } from './metering.ts';

const meterKeys = generateKeyPairSync('ed25519');
const otherKeys = generateKeyPairSync('ed25519');
const reading = { meter: 'm1', participant: 'alice', interval: 3, energy_wh: 1200, t_s: 3600 };

function register() {
  const reg = new MeterRegister('authority-secret');
  reg.register('m1', 'alice', meterKeys.publicKey);
  return reg;
}

describe('signed meter readings', () => {
  it('accepts a signed reading, keeps it private and proves it against its commitment', () => {
    const reg = register();
    const v = reg.accept(signReading(reading, meterKeys.privateKey), 3700);
    expect(v.ok).toBe(true);
    expect(reg.meteredFor(3)).toEqual(new Map([['alice', 1200n]]));
    const proof = reg.prove('m1', 3)!;
    expect(v.ok && v.commitment).toBe(proof.commitment);
    expect(commitmentOf(proof.reading, proof.salt)).toBe(proof.commitment);
    // Any other value does not match the commitment.
    expect(commitmentOf({ ...proof.reading, energy_wh: 1201 }, proof.salt)).not.toBe(proof.commitment);
    expect(commitmentOf(proof.reading, 'guessed salt')).not.toBe(proof.commitment);
  });

  it('refuses forged, replayed, late and unknown readings with a reason, and junk without throwing', () => {
    const reg = register();
    const signed = signReading(reading, meterKeys.privateKey);
    const forged = { ...signed, reading: { ...signed.reading, energy_wh: 5000 } };
    expect(reg.accept(forged, 3700)).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(reg.accept(signReading(reading, otherKeys.privateKey), 3700)).toMatchObject({
      ok: false,
      reason: 'bad-signature',
    });
    expect(
      reg.accept(signReading({ ...reading, participant: 'bob' }, meterKeys.privateKey), 3700),
    ).toMatchObject({
      ok: false,
      reason: 'wrong-participant',
    });
    expect(reg.accept(signReading({ ...reading, meter: 'm9' }, meterKeys.privateKey), 3700)).toMatchObject({
      ok: false,
      reason: 'unknown-meter',
    });
    // Interval 3 ends at 3600 s; 300 s later is the limit.
    const late = reg.accept(signed, 3901);
    expect(late).toMatchObject({ ok: false, reason: 'late' });
    expect(late.ok || late.message).toMatch(/received at 3901 s, after 3900 s/);
    expect(reg.accept(signed, 3900).ok).toBe(true);
    expect(reg.accept(signed, 3900)).toMatchObject({ ok: false, reason: 'replayed' });
    for (const junk of [null, 1, 'x', {}, { reading: {}, signature: 'zz' }, { reading, signature: 5 }])
      expect(reg.accept(junk, 0)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(reg.refused).toHaveLength(12);
    expect(reg.meteredFor(3)).toEqual(new Map([['alice', 1200n]]));
  });
});
