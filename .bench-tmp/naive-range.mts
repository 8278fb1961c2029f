import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
createServer((req, res) => {
  res.writeHead(206, { 'content-length': '65536', 'content-range': `bytes 1048576-1114111/${1024 ** 3}` });
  pipeline(createReadStream('/tmp/haul-bench/data/objects/b/big.bin', { start: 1048576, end: 1114111 }), res, () => {});
}).listen(18090);
