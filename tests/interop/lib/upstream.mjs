// The API the paid servers front: every GET answers JSON naming the path it
// served, so a case can tell that the paid request reached it.
// Usage: node upstream.mjs  (prints "listening <url>"; PORT=0 picks a free port)
import http from "node:http";

let served = 0;
const server = http.createServer((req, res) => {
  served += 1;
  const body = JSON.stringify({ upstream: "paytab-interop", path: req.url, method: req.method, served });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
