// The protected app of the gateway example: not Go, and knowing nothing of
// sesame. It answers every request with what it received (method, URL,
// every header line as sent, body), as JSON, or as a page for browsers.
// Usage: node upstream.js 127.0.0.1:PORT
"use strict";
const http = require("http");
const [host, port] = process.argv[2].split(":");
const escape = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => { body += c; });
  req.on("end", () => {
    const headers = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    const seen = JSON.stringify({ method: req.method, url: req.url, headers, body });
    if ((req.headers.accept || "").includes("text/html")) {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><title>app</title><pre id="echo">${escape(seen)}</pre>`);
    } else {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(seen);
    }
  });
}).listen(Number(port), host, () => console.log(`upstream listening on ${host}:${port}`));
