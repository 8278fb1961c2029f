import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { nativeShaPath, type Sha256x2, STATE_BYTES } from '../../src/client/native-sha.ts';

/**
 * The two-state SHA-256 addon (src/client/sha256x2.c) against OpenSSL. On CI (x86-64 with the SHA
 * extensions, a C compiler from .ci/run) it must build: a machine that cannot is reported here
 * rather than silently falling back.
 */
const cpuHasSha = process.arch === 'x64' && /\bsha_ni\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
const path = nativeShaPath();

describe('the SHA-256 addon', () => {
  it('is built and used wherever the CPU has the SHA extensions', () => {
    if (cpuHasSha) expect(path, 'sha256x2.c did not build (HAUL_DEBUG=1 says why)').toBeDefined();
    else expect(path).toBeUndefined();
  });

  describe.runIf(path)('digests', () => {
    const addon = createRequire(import.meta.url)(path!) as Sha256x2;
    const fresh = () => {
      const s = Buffer.alloc(STATE_BYTES);
      addon.init(s);
      return s;
    };
    const openssl = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const data = randomBytes(3 * 1024 * 1024 + 77);

    it('match OpenSSL for every length and split, one state or two, in step or not', () => {
      const lengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 65_536, 1_048_577, data.length];
      for (let t = 0; t < 120; t++) lengths.push(Math.floor(Math.random() * data.length));
      for (const [i, length] of lengths.entries()) {
        // `whole` has a prefix of `lead` bytes (so the two states are out of step unless lead % 64 == 0).
        const lead = [0, 64, 128, 7, 100][i % 5]!;
        const whole = fresh();
        const chunk = fresh();
        addon.update(whole, data.subarray(0, lead));
        const body = data.subarray(lead, Math.min(data.length, lead + length));
        for (let at = 0; at < body.length; ) {
          const n = Math.min(body.length - at, 1 + Math.floor(Math.random() * (i % 2 ? 200 : 300_000)));
          addon.update(whole, chunk, body.subarray(at, at + n));
          at += n;
        }
        const copy = Buffer.from(whole);
        expect(addon.digest(chunk).toString('hex'), `length ${length}, lead ${lead}`).toBe(openssl(body));
        expect(addon.digest(whole).toString('hex')).toBe(openssl(data.subarray(0, lead + body.length)));
        // digest() leaves the state as it was: a copy, and the state itself, go on.
        addon.update(copy, Buffer.from('more'));
        addon.update(whole, Buffer.from('more'));
        expect(addon.digest(copy).toString('hex')).toBe(
          openssl(Buffer.concat([data.subarray(0, lead + body.length), Buffer.from('more')])),
        );
        expect(addon.digest(copy)).toEqual(addon.digest(whole));
      }
    });

    it('refuses bad arguments with a stable code and changes nothing', () => {
      const s = fresh();
      addon.update(s, data.subarray(0, 100));
      const before = Buffer.from(s);
      const bad: Array<() => unknown> = [
        () => addon.update(Buffer.alloc(STATE_BYTES - 1), data),
        () => addon.update(s, 'text' as unknown as Buffer),
        () => addon.update(s, s, data),
        () => addon.digest(Buffer.alloc(8)),
        () => (addon.update as unknown as (s: Buffer) => void)(s),
        () => (addon.init as unknown as () => void)(),
      ];
      for (const call of bad) expect(call).toThrow(expect.objectContaining({ code: 'ERR_HAUL_SHA256X2' }));
      expect(s).toEqual(before);
    });
  });
});
