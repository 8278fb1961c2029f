import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
const hwm = Number(process.env.HWM ?? 65536);
createServer((req, res) => {
  res.writeHead(200, { 'content-length': String(1024 ** 3) });
  pipeline(createReadStream('/tmp/haul-bench/data/objects/b/big.bin', { highWaterMark: hwm }), res, () => {});
}).listen(Number(process.env.PORT));
