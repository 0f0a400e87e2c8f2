import type { ScriptArg } from './script-runner';

/** One request's part of a script call's arguments, and the values its reply holds for that request. */
export type BatchArgs = ScriptArg[];
export type BatchReply = [number, ...(number | string)[]];

/**
 * Sends calls as they come while fewer than `maxInFlight` are on their way, and the ones that
 * arrive meanwhile together, as one batch, when one returns: no added latency when idle, one round
 * trip for many under load. Calls reach Redis in the order they were submitted (one connection).
 */
export class CallBatcher {
  private pending: {
    args: BatchArgs;
    resolve: (reply: BatchReply) => void;
    reject: (error: unknown) => void;
  }[] = [];
  private inFlight = 0;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly send: (requests: BatchArgs[]) => Promise<BatchReply[]>,
    private readonly maxInFlight = 1,
    private readonly maxBatch = 256,
  ) {}

  submit(args: BatchArgs): Promise<BatchReply> {
    return new Promise<BatchReply>((resolve, reject) => {
      this.pending.push({ args, resolve, reject });
      if (this.inFlight < this.maxInFlight) this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight >= this.maxInFlight || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.maxBatch);
    this.inFlight++;
    this.send(batch.map((b) => b.args)).then(
      (replies) => {
        batch.forEach((b, i) => b.resolve(replies[i]!));
        this.done();
      },
      (error: unknown) => {
        for (const b of batch) b.reject(error);
        this.done();
      },
    );
  }

  /** Resolves once every call submitted so far has been answered (or has failed). */
  drained(): Promise<void> {
    if (this.inFlight === 0 && this.pending.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  private done(): void {
    this.inFlight--;
    this.flush();
    if (this.inFlight === 0 && this.pending.length === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}

/**
 * Resolves once every call submitted to `batchers` so far has been answered, or after `maxMs`,
 * whichever comes first: a closing store lets calls already made (releases a limiter does not
 * await) reach Redis, otherwise their leases would hold slots until the TTL.
 */
export async function drainWithin(batchers: Iterable<CallBatcher>, maxMs: number): Promise<void> {
  const drained = Promise.all([...batchers].map((b) => b.drained()));
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)))]);
  clearTimeout(timer);
}
