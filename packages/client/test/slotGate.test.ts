import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlotGate } from '../src/slotGate.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Task {
  started: boolean;
  finish: (ok: boolean) => void;
}

describe('SlotGate (the client’s bound on outstanding requests)', () => {
  it('never runs more than its capacity, starts tasks in arrival order, and frees a slot however a task ends', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        // true: a new task arrives; false: the oldest running task ends (fulfilled or rejected).
        fc.array(fc.record({ arrive: fc.boolean(), ok: fc.boolean() }), { maxLength: 60 }),
        async (capacity, steps) => {
          const gate = new SlotGate(capacity);
          const tasks: Task[] = [];
          const startOrder: number[] = [];
          const running: Task[] = [];
          const arrive = (): void => {
            const index = tasks.length;
            const task: Task = { started: false, finish: () => {} };
            tasks.push(task);
            gate.run(() => {
              task.started = true;
              startOrder.push(index);
              running.push(task);
              return new Promise<void>((resolve, reject) => {
                task.finish = (ok) => (ok ? resolve() : reject(new Error('task failed')));
              });
            });
          };
          for (const step of steps) {
            if (step.arrive) arrive();
            else running.shift()?.finish(step.ok);
            await settle();
            expect(gate.holding).toBe(running.length);
            expect(gate.holding).toBeLessThanOrEqual(capacity);
            // Work-conserving: nobody waits while a slot is free.
            if (gate.queued > 0) expect(gate.holding).toBe(capacity);
            expect(gate.holding + gate.queued).toBe(tasks.filter((t) => !t.started).length + running.length);
          }
          const drained = gate.onEmpty();
          while (running.length > 0) {
            running.shift()!.finish(true);
            await settle();
          }
          await drained;
          expect(gate.queued).toBe(0);
          expect(startOrder).toEqual(tasks.map((_, i) => i));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('starts a task in the caller’s turn when a slot is free, and onEmpty waits for the queue only', async () => {
    const gate = new SlotGate(1);
    let firstStarted = false;
    let endFirst!: () => void;
    gate.run(() => {
      firstStarted = true;
      return new Promise<void>((resolve) => (endFirst = resolve));
    });
    expect(firstStarted).toBe(true);
    let secondStarted = false;
    gate.run(async () => {
      secondStarted = true;
    });
    expect(gate.queued).toBe(1);
    let empty = false;
    void gate.onEmpty().then(() => (empty = true));
    await settle();
    expect(empty).toBe(false);
    endFirst();
    await settle();
    expect(secondStarted).toBe(true);
    expect(empty).toBe(true);
    await expect(gate.onEmpty()).resolves.toBeUndefined();
  });
});
