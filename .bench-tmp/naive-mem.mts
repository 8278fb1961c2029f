import { createServer } from 'node:http';
const data = Buffer.alloc(65536, 1);
createServer((req, res) => {
  res.writeHead(206, { 'content-length': '65536', 'content-range': `bytes 1048576-1114111/${1024 ** 3}` });
  res.end(data);
}).listen(18090);
