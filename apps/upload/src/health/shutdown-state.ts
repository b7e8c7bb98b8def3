import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable } from '@nestjs/common';
import { ApiCode, message } from '@koodrive/errors';

interface InFlight {
  readonly response: ServerResponse;
  readonly xTraceid: string;
}

// Set once the process was asked to stop: readiness turns false so the load balancer stops
// sending new requests, while the server keeps answering during the drain period. It also knows
// the requests in flight, so that at the shutdown deadline those not yet answered get a 503.
@Injectable()
export class ShutdownState {
  private draining = false;
  private readonly inFlight = new Map<IncomingMessage, InFlight>();

  get isDraining(): boolean {
    return this.draining;
  }

  beginDrain(): void {
    this.draining = true;
  }

  started(request: IncomingMessage, response: ServerResponse, xTraceid: string): void {
    this.inFlight.set(request, { response, xTraceid });
    response.once('close', () => this.inFlight.delete(request));
  }

  // The deadline: every request still in flight whose answer has not begun gets 503/13000201 with
  // Retry-After (a retry reaches another replica); every connection is closed. Answers how many.
  answerUnfinished(): number {
    const body = JSON.stringify({ code: ApiCode.InternalError, msg: message('en-US', ApiCode.InternalError) });
    let answered = 0;
    for (const { response, xTraceid } of this.inFlight.values()) {
      if (!response.headersSent) {
        response.writeHead(503, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'retry-after': '5',
          'x-traceid': xTraceid,
          connection: 'close',
        });
        response.end(body);
        answered++;
      }
      response.socket?.destroySoon();
    }
    return answered;
  }
}
