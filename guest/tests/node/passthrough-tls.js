// A stand-in for wasi:tls@0.2.0-draft on jco's Node host that does NO cryptography: the
// "protected" streams are the guest's own TCP streams, handed back. It exists to check a guest's
// use of the wasi:tls resources (constructor, finish, subscribe, get, close-output and the
// canonical ABI layouts of their results) against jco's bindings, talking to a plain-text server.
// A server name starting with "bad" fails the handshake with an io-error, to exercise that path.
import { error } from '@bytecodealliance/preview2-shim/io';
import { monotonicClock } from '@bytecodealliance/preview2-shim/clocks';

export function isAvailable() {
  return true;
}

export class ClientConnection {
  closeOutput() {}
}

export class ClientHandshake {
  constructor(serverName, input, output) {
    this.serverName = serverName;
    this.input = input;
    this.output = output;
  }
  static finish(handshake) {
    return new FutureClientStreams(handshake);
  }
}

export class FutureClientStreams {
  #handshake;
  #asked = 0;
  #taken = false;
  constructor(handshake) {
    this.#handshake = handshake;
  }
  subscribe() {
    return monotonicClock.subscribeDuration(1_000_000n);
  }
  get() {
    if (this.#taken) return { tag: 'err', val: undefined };
    if (this.#asked++ === 0) return undefined; // like a real handshake: not done at once
    this.#taken = true;
    const hs = this.#handshake;
    if (hs.serverName.startsWith('bad')) {
      const e = new error.Error(`passthrough-tls: refusing ${hs.serverName}`);
      return { tag: 'ok', val: { tag: 'err', val: e } };
    }
    return { tag: 'ok', val: { tag: 'ok', val: [new ClientConnection(), hs.input, hs.output] } };
  }
}
