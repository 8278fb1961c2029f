import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis server the tests use; CI starts it, and a test fails loudly without it. */
export const REDIS_URL = process.env.HAUL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own for one test file (HAUL_REDIS_PREFIX), so parallel files never share keys. */
export const testRedisPrefix = (name: string) => `haul-test-${name}-${randomBytes(4).toString('hex')}:`;

/** Deletes every key under `prefix` (BullMQ queues, schedulers, locks), with SCAN so Redis is never blocked. */
export async function deleteRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
