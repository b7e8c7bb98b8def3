import { Injectable } from '@nestjs/common';

// Set once the process was asked to stop: readiness turns false so the load balancer stops
// sending new requests, while the server keeps answering during the drain period.
@Injectable()
export class ShutdownState {
  private draining = false;

  get isDraining(): boolean {
    return this.draining;
  }

  beginDrain(): void {
    this.draining = true;
  }
}
