import { FsBlobStore } from '../src/storage/fs.ts';
import { writeVersion } from '../src/storage/versions.ts';
import { Keyring, signDownloadUrl } from '../src/edge/signing.ts';
const store = new FsBlobStore('/tmp/haul-bench/data/objects');
const st = await store.stat('b/big.bin');
await writeVersion(store, 'b/big.bin', { sha256: 'f'.repeat(64), size: st!.size, lastModified: st!.lastModified.toISOString() });
const k = new Keyring({ keys: { kb: 'bench-signing-secret-0123456789' }, activeKid: 'kb', retired: [] });
console.log(signDownloadUrl(k, { baseUrl: 'http://127.0.0.1:18081', objectPath: 'b/big.bin', version: 'f'.repeat(64), expiresAt: new Date(Date.now() + 3600_000) }));
