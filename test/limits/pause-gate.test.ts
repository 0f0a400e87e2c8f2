import { describe, expect, it } from 'vitest';
import { PauseGate } from '../../src/limits/pause-gate';

describe('PauseGate', () => {
  it('is open until extended, closed before its end and open at it', () => {
    const gate = new PauseGate();
    expect(gate.isClosed(0)).toBe(false);
    expect(gate.extend(100)).toBe(true);
    expect(gate.isClosed(99.9)).toBe(true);
    expect(gate.isClosed(100)).toBe(false);
  });

  it('only ever extends', () => {
    const gate = new PauseGate();
    gate.extend(100);
    expect(gate.extend(50)).toBe(false);
    expect(gate.extend(100)).toBe(false);
    expect(gate.untilMs).toBe(100);
    expect(gate.extend(150)).toBe(true);
    expect(gate.untilMs).toBe(150);
  });

  it('owes one resume per pause, due at its end', () => {
    const gate = new PauseGate();
    expect(gate.resumeDueMs).toBe(Infinity);
    gate.extend(100);
    gate.extend(200);
    expect(gate.resumeDueMs).toBe(200);
    expect(gate.takeResume(150)).toBe(false);
    expect(gate.takeResume(200)).toBe(true);
    expect(gate.takeResume(250)).toBe(false);
    expect(gate.resumeDueMs).toBe(Infinity);
  });
});
