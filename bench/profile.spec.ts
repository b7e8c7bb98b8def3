// bench/profile.ts: a V8 CPU profile summed by package, on a profile written by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packageOf, summarize } from './profile.ts';

describe('bench/profile', () => {
  it('names the package of a script: the innermost node_modules, scoped or not; node:*; this repository', () => {
    assert.equal(packageOf('file:///app/node_modules/pg/lib/client.js', 'query'), 'pg');
    assert.equal(packageOf('file:///app/node_modules/@smithy/core/dist/index.js', 'f'), '@smithy/core');
    assert.equal(packageOf('file:///app/node_modules/a/node_modules/@aws-sdk/core/x.js', 'f'), '@aws-sdk/core');
    assert.equal(packageOf('node:internal/streams/writable', 'write'), 'node (built-in modules)');
    assert.equal(packageOf('file:///app/dist/libs/database/src/sql.js', 'query'), 'koodrive (apps/, libs/)');
    assert.equal(packageOf('', '(garbage collector)'), '(garbage collector)');
    assert.equal(packageOf('', 'writev'), '(native)');
  });

  it('charges each sample its time until the next to the function on top, idle left out, within the window', () => {
    const frame = (id: number, url: string, functionName: string) => ({ id, callFrame: { url, functionName } });
    const profile = {
      nodes: [
        frame(1, '', '(idle)'),
        frame(2, 'file:///app/node_modules/pg/lib/client.js', 'query'),
        frame(3, 'file:///app/libs/x.js', 'run'),
      ],
      startTime: 1_000,
      endTime: 9_000,
      // samples at 2000, 3000, 5000, 6000, 8000 (µs): they last 1000, 2000, 1000, 2000, 0
      samples: [2, 3, 2, 1, 3],
      timeDeltas: [1_000, 1_000, 2_000, 1_000, 2_000],
    };
    const all = summarize(profile);
    // pg: 1000 + 1000 µs; koodrive: 2000 (+ 0 for the last); idle's 2000 left out
    assert.equal(all.busyMs, 4);
    assert.deepEqual(
      all.byPackage.map(({ name, ms }) => [name, ms]),
      [
        ['pg', 2],
        ['koodrive (apps/, libs/)', 2],
      ],
    );
    // only the samples taken from 2500 to 5500 µs: 3000 (koodrive, 2000) and 5000 (pg, 1000)
    const window = summarize(profile, [2_500, 5_500]);
    assert.equal(window.busyMs, 3);
    assert.deepEqual(window.topFunctions[0], { name: 'koodrive (apps/, libs/): run (x.js)', ms: 2 });
  });
});
