import http from "node:http";

/**
 * Send `request` on to `upstream` (a test registry) as it came, Host header included (the
 * registry's upload locations then point back at the proxy), and its answer back on
 * `response`. The caller writes the request body to the returned request (or pipes it).
 */
export function forwardRequest(
  upstream: URL,
  request: http.IncomingMessage,
  response: http.ServerResponse,
): http.ClientRequest {
  const forward = http.request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: request.method,
      path: request.url,
      headers: request.headers,
    },
    (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    },
  );
  forward.on("error", () => response.destroy());
  return forward;
}
