// A few Channel streams over one balanced gRPC channel: each stream is one
// RPC, so round_robin places each on an endpoint, and calls are spread over
// the streams in turn. A call on a stream costs what a local call costs (a
// unary RPC per call is ~10x dearer in grpc-js), and a stream carries the
// plugin's host calls back. A stream that breaks is dropped and replaced;
// when the healthy endpoints change, the streams are renewed so new ones land
// on the endpoints now in rotation, and the old ones close once idle.
import type { Logger } from '../logger.js';
import { pluginClosed } from '../dynamic/call-errors.js';
import { CallChannel } from '../dynamic/call-channel.js';
import type { Connection } from '../dynamic/connection.js';
import { HostCallServer, type HostCallReport } from '../dynamic/host-call-server.js';
import type { HostServiceTable } from '../dynamic/host-services.js';

export interface PoolOptions {
  readonly plugin: string;
  readonly maxMessageBytes: number;
  readonly logger: Logger;
  readonly services: HostServiceTable;
  readonly report?: HostCallReport | undefined;
  /** How many streams to keep (the pool reads it whenever it fills up). */
  readonly size: () => number;
  /** A stream broke: `err` is why, `heard` whether the server had answered on it; its calls in flight fail with what this returns. */
  readonly lost: (err: Error, heard: boolean) => Error;
}

interface Member {
  readonly channel: CallChannel;
  readonly hostCalls: HostCallServer;
  broken: boolean;
}

/** How many calls one stream may have in flight before more wait in the host. */
const STREAM_WINDOW = 4096;

export class ChannelPool {
  readonly #conn: Connection;
  readonly #options: PoolOptions;
  #live: Member[] = [];
  readonly #retiring = new Set<Member>();
  #next = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #budget = { running: 0 };

  constructor(conn: Connection, options: PoolOptions) {
    this.#conn = conn;
    this.#options = options;
  }

  /** The stream for the next call, in turn. */
  pick(): CallChannel {
    if (this.#closed) throw pluginClosed(this.#options.plugin, 'is closed');
    const want = Math.max(1, this.#options.size());
    while (this.#live.length < want) this.#live.push(this.#open());
    this.#next = (this.#next + 1) % this.#live.length;
    return this.#live[this.#next]!.channel;
  }

  /**
   * Opens the streams and checks where round_robin put them: endpoints that
   * were still connecting when the streams opened get none, so while fewer
   * endpoints than `endpoints` carry a stream, it renews them (a few tries).
   */
  async balance(endpoints: number, until: number): Promise<boolean> {
    for (let attempt = 0; attempt < 8 && !this.#closed; attempt++) {
      this.pick();
      const live = [...this.#live];
      // A server that never answers on its Channel must not hold connect() past its deadline.
      let timer: NodeJS.Timeout | undefined;
      const answered = await Promise.race([
        Promise.all(live.map((m) => m.channel.answered)).then(() => true),
        new Promise<false>((resolve) => void (timer = setTimeout(() => resolve(false), Math.max(0, until - Date.now()))).unref()),
      ]);
      clearTimeout(timer);
      if (!answered) return false;
      const peers = new Set(live.filter((m) => !m.broken).map((m) => m.channel.peer));
      if (peers.size >= Math.min(endpoints, live.length)) return true;
      // A returning endpoint's connection may still be in its TLS handshake: give it longer each time (~1 s in all).
      await new Promise((resolve) => setTimeout(resolve, 25 * (attempt + 1)));
      this.renew();
    }
    return true;
  }

  /** New streams for new calls (the healthy endpoints changed); the current ones finish what they carry. */
  renew(): void {
    for (const member of this.#live) this.#retiring.add(member);
    this.#live = [];
    this.#sweeper ??= setInterval(() => this.#sweep(), 100);
    this.#sweeper.unref();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const member of [...this.#live, ...this.#retiring]) this.#end(member);
    this.#live = [];
    this.#retiring.clear();
  }

  #open(): Member {
    let member!: Member;
    const channel = new CallChannel(this.#conn, {
      plugin: this.#options.plugin,
      window: STREAM_WINDOW,
      maxMessageBytes: this.#options.maxMessageBytes,
      onBroken: (err) => {
        member.broken = true;
        this.#live = this.#live.filter((m) => m !== member);
        this.#retiring.delete(member);
        member.hostCalls.closeAll('the stream to the plugin server broke');
        channel.failAll(this.#options.lost(err, channel.heard));
      },
      onHostFrame: (frame) => member.hostCalls.receive(frame),
    });
    const hostCalls = new HostCallServer({
      plugin: this.#options.plugin,
      table: this.#options.services,
      maxMessageBytes: this.#options.maxMessageBytes,
      send: (frame) => channel.sendFrame(frame),
      logger: this.#options.logger,
      report: this.#options.report,
      budget: this.#budget,
    });
    member = { channel, hostCalls, broken: false };
    if (this.#closed) this.#end(member);
    return member;
  }

  #sweep(): void {
    for (const member of this.#retiring) {
      if (member.channel.inFlight > 0 || member.hostCalls.open > 0) continue;
      this.#retiring.delete(member);
      this.#end(member);
    }
    if (this.#retiring.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #end(member: Member): void {
    member.hostCalls.closeAll('the stream was closed');
    if (!member.broken) member.channel.close();
  }
}
