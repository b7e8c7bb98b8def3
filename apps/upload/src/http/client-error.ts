// Requests too malformed for the HTTP parser (control characters or NUL in a header, headers
// over Node's limit, broken framing) never reach a route. They still get KooDrive's envelope,
// 13000101, with a fresh X-Traceid; nothing of the request is reflected, and the connection closes.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ApiCode, message } from '@koodrive/errors';
import { newXTraceid } from '@koodrive/telemetry';

export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    return; // the client went away (ECONNRESET): nobody to answer
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const body = JSON.stringify({ code: ApiCode.RequestError, msg: message('en-US', ApiCode.RequestError) });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Traceid: ${newXTraceid(undefined)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
