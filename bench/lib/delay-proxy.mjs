#!/usr/bin/env node
// A tiny TCP proxy for the latency rows: listens on 127.0.0.1 only and holds each HTTP request
// DELAY ms before forwarding it to the upstream registry (a per-request round-trip cost, like a
// registry 50 ms away), then passes its body and the whole response stream through untouched.
//
// Only the client-to-registry direction is parsed, and only as far as request heads and
// Content-Length bodies go (what registry clients send); anything else (a chunked body, a TLS
// probe) switches that connection to "every chunk held DELAY ms". Responses are piped raw, so
// the proxy costs little CPU even for gigabytes of layers. One upstream connection per client
// connection: keep-alive and the clients' own concurrency stay as they are.
//
// usage: node bench/lib/delay-proxy.mjs --upstream 127.0.0.1:PORT [--delay-ms 50] [--port 0]
// Prints `listening 127.0.0.1:PORT control 127.0.0.1:PORT2` once ready; `GET /requests` on the
// control port answers (and resets) the number of requests forwarded so far.
import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { fileURLToPath } from "node:url";

const HEAD_END = Buffer.from("\r\n\r\n");
const MAX_HEAD = 64 * 1024;

/** Proxy one client connection to `upstream`, delaying each request by `delayMs`. */
function proxyConnection(client, upstream, delayMs, counter) {
  const server = net.connect(upstream.port, upstream.host);
  client.setNoDelay(true);
  server.setNoDelay(true);
  server.pipe(client);
  const close = () => {
    client.destroy();
    server.destroy();
  };
  client.on("error", close);
  server.on("error", close);
  // The registry closing its side ends the client's once the piped bytes are out (pipe() calls
  // end()); destroying it here could cut a response still in the socket's buffer.
  client.on("close", () => server.destroy());

  const queue = []; // { at, bytes }, in order
  let timer;
  let head = Buffer.alloc(0);
  let bodyLeft = 0;
  let lastAt = 0;
  let raw = false; // not parseable as requests: hold every chunk
  let ended = false;

  const flush = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length && queue[0].at <= now) {
      const item = queue.shift();
      if (!server.write(item.bytes)) {
        client.pause();
        server.once("drain", () => client.resume());
      }
    }
    if (queue.length) timer = setTimeout(flush, queue[0].at - now);
    else if (ended) server.end();
  };
  const push = (at, bytes) => {
    queue.push({ at, bytes });
    if (!timer) timer = setTimeout(flush, Math.max(0, queue[0].at - Date.now()));
  };

  client.on("data", (chunk) => {
    let data = chunk;
    if (raw) {
      push(Date.now() + delayMs, data);
      return;
    }
    while (data.length) {
      if (bodyLeft > 0) {
        const take = Math.min(bodyLeft, data.length);
        push(lastAt, data.subarray(0, take));
        bodyLeft -= take;
        data = data.subarray(take);
        continue;
      }
      if (head.length === 0 && data[0] === 0x16) {
        // A TLS ClientHello (a client probing whether the port speaks TLS): pass it on, late.
        raw = true;
        push(Date.now() + delayMs, data);
        return;
      }
      head = Buffer.concat([head, data]);
      data = Buffer.alloc(0);
      const end = head.indexOf(HEAD_END);
      if (end < 0) {
        if (head.length > MAX_HEAD) {
          raw = true;
          push(Date.now() + delayMs, head);
          head = Buffer.alloc(0);
        }
        return;
      }
      const requestHead = head.subarray(0, end + 4);
      data = head.subarray(end + 4);
      head = Buffer.alloc(0);
      counter.requests++;
      lastAt = Date.now() + delayMs;
      push(lastAt, requestHead);
      const text = requestHead.toString("latin1");
      if (/^transfer-encoding:\s*chunked/im.test(text)) {
        raw = true; // hold the rest of this connection chunk by chunk
        if (data.length) push(lastAt, data);
        return;
      }
      bodyLeft = Number(/^content-length:\s*(\d+)/im.exec(text)?.[1] ?? 0);
    }
  });
  client.on("end", () => {
    ended = true;
    if (!queue.length && !timer) server.end();
  });
}

export async function serveDelayProxy({ upstream, delayMs = 50, port = 0 }) {
  const [host, upstreamPort] = upstream.split(":");
  const target = { host, port: Number(upstreamPort) };
  const counter = { requests: 0 };
  const proxy = net.createServer((client) => proxyConnection(client, target, delayMs, counter));
  const control = http.createServer((_request, response) => {
    response.end(JSON.stringify({ requests: counter.requests }));
    counter.requests = 0;
  });
  const listen = (server, at) =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(at, "127.0.0.1", () => resolve(server.address().port));
    });
  return { port: await listen(proxy, port), controlPort: await listen(control, 0) };
}

/** Run the proxy as a child process (its CPU stays out of the bench's event loop). */
export function startDelayProxy(upstream, delayMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), "--upstream", upstream, "--delay-ms", String(delayMs)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let text = "";
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`delay proxy exited with ${code}`)));
    child.stdout.on("data", (chunk) => {
      text += chunk.toString();
      const match = /listening (\S+) control (\S+)/.exec(text);
      if (!match) return;
      child.removeAllListeners("exit");
      child.stdout.resume();
      resolve({
        host: match[1],
        pid: child.pid,
        /** Requests forwarded since the last call. */
        async requests() {
          const answer = await fetch(`http://${match[2]}/requests`);
          return (await answer.json()).requests;
        },
        stop() {
          if (child.exitCode !== null) return Promise.resolve();
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          return exited;
        },
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : fallback;
  };
  const upstream = option("--upstream");
  if (!upstream) {
    console.error("usage: delay-proxy.mjs --upstream HOST:PORT [--delay-ms 50] [--port 0]");
    process.exit(2);
  }
  const { port, controlPort } = await serveDelayProxy({
    upstream,
    delayMs: Number(option("--delay-ms", "50")),
    port: Number(option("--port", "0")),
  });
  console.log(`listening 127.0.0.1:${port} control 127.0.0.1:${controlPort}`);
  process.on("SIGTERM", () => process.exit(0));
}
