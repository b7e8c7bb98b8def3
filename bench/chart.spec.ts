import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32, inflateSync } from 'node:zlib';
import { type BarChart, type Rgb, SERIES_COLORS, renderBarChartPng } from './chart.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS = 3; // 8-bit RGB

interface Chunk {
  readonly type: string;
  readonly data: Buffer;
  readonly crc: number;
}

function chunks(png: Buffer): Chunk[] {
  const found: Chunk[] = [];
  for (let at = PNG_SIGNATURE.length; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString('ascii', at + 4, at + 8);
    found.push({ type, data: png.subarray(at + 8, at + 8 + length), crc: png.readUInt32BE(at + 8 + length) });
    at += 12 + length;
  }
  return found;
}

function decode(png: Buffer): { width: number; height: number; scanlines: Buffer } {
  const all = chunks(png);
  const header = all.find((c) => c.type === 'IHDR')?.data;
  assert.ok(header);
  const idat = Buffer.concat(all.filter((c) => c.type === 'IDAT').map((c) => c.data));
  return { width: header.readUInt32BE(0), height: header.readUInt32BE(4), scanlines: inflateSync(idat) };
}

// The bounding box and count of the pixels painted exactly in one colour.
function paint(
  png: Buffer,
  [r, g, b]: Rgb,
): { count: number; top: number; bottom: number; left: number; right: number } {
  const { width, height, scanlines } = decode(png);
  const found = { count: 0, top: Infinity, bottom: -Infinity, left: Infinity, right: -Infinity };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = y * (1 + width * CHANNELS) + 1 + x * CHANNELS;
      if (scanlines[at] === r && scanlines[at + 1] === g && scanlines[at + 2] === b) {
        found.count++;
        found.top = Math.min(found.top, y);
        found.bottom = Math.max(found.bottom, y);
        found.left = Math.min(found.left, x);
        found.right = Math.max(found.right, x);
      }
    }
  }
  return found;
}

function aChart(overrides: Partial<BarChart> = {}): BarChart {
  return {
    title: 'Complete throughput',
    unit: 'MB/s',
    groups: ['64 MiB', '256 MiB', '1 GiB'],
    series: [
      { name: 'single stream', values: [212, 233, 241] },
      { name: 'pipelined', values: [388, 412, 430] },
      { name: 'parallel by part', values: [533, 1021, 1288] },
      { name: 'hash chain', values: [480, 502, null] },
    ],
    ...overrides,
  };
}

function seriesColor(index: number): Rgb {
  const color = SERIES_COLORS[index];
  assert.ok(color);
  return color;
}

describe(renderBarChartPng.name, () => {
  it('writes a PNG whose header holds the requested size, 1000x560 by default', () => {
    const png = renderBarChartPng(aChart({ width: 640, height: 360 }));
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    assert.deepEqual(
      chunks(png).map((c) => c.type),
      ['IHDR', 'IDAT', 'IEND'],
    );
    assert.deepEqual({ width: decode(png).width, height: decode(png).height }, { width: 640, height: 360 });
    const byDefault = decode(renderBarChartPng(aChart()));
    assert.deepEqual({ width: byDefault.width, height: byDefault.height }, { width: 1000, height: 560 });
  });

  it('gives every chunk a valid CRC over its type and data', () => {
    for (const chunk of chunks(renderBarChartPng(aChart()))) {
      assert.equal(chunk.crc, crc32(Buffer.concat([Buffer.from(chunk.type, 'ascii'), chunk.data])), chunk.type);
    }
  });

  it('stores one filter byte 0 and width * 3 bytes per row', () => {
    const { width, height, scanlines } = decode(renderBarChartPng(aChart({ width: 500, height: 300 })));
    assert.equal(scanlines.length, height * (1 + width * CHANNELS));
    for (let y = 0; y < height; y++) {
      assert.equal(scanlines[y * (1 + width * CHANNELS)], 0);
    }
  });

  it('draws every series in its own colour', () => {
    const png = renderBarChartPng(aChart());
    for (const index of [0, 1, 2, 3]) {
      assert.ok(paint(png, seriesColor(index)).count > 1000, `series ${index}`);
    }
  });

  it('draws a taller bar for a larger value', () => {
    const paintWith = (value: number): number =>
      paint(renderBarChartPng(aChart({ series: [{ name: 'only', values: [value, 100, 100] }] })), seriesColor(0)).count;
    assert.ok(paintWith(80) > paintWith(40));
    assert.ok(paintWith(40) > paintWith(10));
  });

  it('draws no bar for a null value: only the legend swatch keeps the colour', () => {
    const png = renderBarChartPng(aChart({ series: [{ name: 'unmeasured', values: [null, null, null] }] }));
    const swatch = paint(png, seriesColor(0));
    // one small solid square, not a bar standing on the x axis
    assert.ok(swatch.count > 0);
    assert.equal(swatch.count, (swatch.right - swatch.left + 1) * (swatch.bottom - swatch.top + 1));
    assert.ok(swatch.bottom - swatch.top < 20);

    const measured = paint(
      renderBarChartPng(aChart({ series: [{ name: 'x', values: [null, 50, null] }] })),
      seriesColor(0),
    );
    assert.ok(measured.bottom - measured.top > 100);
  });

  it('rejects a series whose values do not match the groups', () => {
    assert.throws(() => renderBarChartPng(aChart({ series: [{ name: 'short', values: [1, 2] }] })), RangeError);
  });
});
