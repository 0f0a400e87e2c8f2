import { afterEach, describe, expect, it, vi } from 'vitest';
import * as pf from 'pocketflow';
import { Flow, Node } from '../../src/index';

afterEach(() => {
  vi.restoreAllMocks();
});

/** A second, independent copy of the core: what a CJS and an ESM build loaded side by side give. */
async function secondCopy(): Promise<typeof import('../../src/index')> {
  vi.resetModules();
  return import('../../src/index');
}

describe('nodes from another copy of throttleflow, or from pocketflow', () => {
  it('the second copy really is a different class (the premise of these tests)', async () => {
    const copy = await secondCopy();
    expect(copy.Node).not.toBe(Node);
    expect(new copy.Node()).not.toBeInstanceOf(Node);
  });

  it('can be wired with next()/on() and started by a Flow of this copy', async () => {
    const copy = await secondCopy();
    const log: string[] = [];
    class Here extends Node<{ log: string[] }> {
      override async post(shared: { log: string[] }) {
        shared.log.push(`here ${String(this.params.k)}`);
        return undefined;
      }
    }
    class There extends copy.Node<{ log: string[] }> {
      override async post(shared: { log: string[] }) {
        shared.log.push(`there ${String(this.params.k)}`);
        return 'on';
      }
    }
    const there = new There();
    const first = new Here();
    expect(first.next(there)).toBe(there);
    there.on('on', new Here());
    await new Flow(first).setParams({ k: 1 }).run({ log });
    expect(log).toEqual(['here 1', 'there 1', 'here 1']);
    await new Flow(new There()).run({ log: [] });
  });

  it('accepts pocketflow nodes too, so a migration can go one node at a time', async () => {
    const log: string[] = [];
    class Old extends pf.Node<{ log: string[] }> {
      override async exec() {
        return this.currentRetry;
      }
      override async post(shared: { log: string[] }, _p: unknown, e: unknown) {
        shared.log.push(`old ${String(e)}`);
        return undefined;
      }
    }
    const start = new Node();
    start.next(new Old() as never);
    await new Flow(start).run({ log });
    await new Flow(new Old() as never).run({ log });
    expect(log).toEqual(['old 0', 'old 0']);
  });

  it('still rejects objects that only look a little like nodes', () => {
    const half = { _run: async () => undefined, clone() {} };
    expect(() => new Node().next(half as never)).toThrow(TypeError);
    expect(() => new Flow(half as never)).toThrow(
      'Flow: start must be a node (an instance of BaseNode), got Object',
    );
  });
});
