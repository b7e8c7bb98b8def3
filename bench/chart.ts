// Grouped bar charts for the benchmark report, as PNG, without dependencies: a 5x7 bitmap font,
// an RGB raster with rectangles and text, and a minimal PNG encoder (one IDAT, filter 0 rows).
import { deflateSync } from 'node:zlib';

export interface ChartSeries {
  readonly name: string;
  // one bar per group; null = no bar
  readonly values: readonly (number | null)[];
}

export interface BarChart {
  readonly title: string;
  readonly unit: string;
  readonly groups: readonly string[];
  readonly series: readonly ChartSeries[];
  readonly width?: number;
  readonly height?: number;
}

export type Rgb = readonly [number, number, number];

// Series i is drawn in SERIES_COLORS[i % length] (Tableau 10); none of them is used for text or lines.
export const SERIES_COLORS: readonly Rgb[] = [
  [0x4e, 0x79, 0xa7],
  [0xf2, 0x8e, 0x2b],
  [0x59, 0xa1, 0x4f],
  [0xe1, 0x57, 0x59],
  [0x76, 0xb7, 0xb2],
  [0xed, 0xc9, 0x48],
  [0xb0, 0x7a, 0xa1],
  [0xff, 0x9d, 0xa7],
  [0x9c, 0x75, 0x5f],
  [0xba, 0xb0, 0xac],
];

function seriesColor(index: number): Rgb {
  return SERIES_COLORS[index % SERIES_COLORS.length] ?? INK;
}

const BACKGROUND: Rgb = [0xff, 0xff, 0xff];
const INK: Rgb = [0x22, 0x22, 0x22];
const AXIS: Rgb = [0x66, 0x66, 0x66];
const GRID: Rgb = [0xe0, 0xe0, 0xe0];
const CHANNELS = 3;
const LEGEND_GAP = 28;

// The classic 5x7 LCD font for ASCII 32..126, lower case with descenders: five column bytes per
// glyph, bit 0 is the top row.
const FONT_HEX = [
  '000000000000005f00000007000700147f147f14242a7f2a12231308646236495522500005030000', //  !"#$%&'
  '001c2241000041221c0014083e081408083e08080050300000080808080800606000002010080402', // ()*+,-./
  '3e5149453e00427f400042615149462141454b311814127f1027454545393c4a4949300171090503', // 01234567
  '3649494936064949291e003636000000563600000814224100141414141400412214080201510906', // 89:;<=>?
  '324979413e7e1111117e7f494949363e414141227f4141221c7f494949417f090909013e4149497a', // @ABCDEFG
  '7f0808087f00417f41002040413f017f081422417f404040407f020c027f7f0408107f3e4141413e', // HIJKLMNO
  '7f090909063e4151215e7f09192946464949493101017f01013f4040403f1f2040201f3f4038403f', // PQRSTUVW
  '631408146307087008076151494543007f41410002040810200041417f0004020102044040404040', // XYZ[\]^_
  '000102040020545454787f484444383844444420384444487f3854545418087e09010218a4a4a47c', // `abcdefg
  '7f0804047800447d40004080847d007f1028440000417f40007c041804787c080404783844444438', // hijklmno
  'fc2424241818242418fc7c080404084854545420043f4440203c4040207c1c2040201c3c4030403c', // pqrstuvw
  '44281028441ca0a0a07c4464544c44000836410000007f000000413608001008081008', // xyz{|}~
].join('');
const FONT = Buffer.from(FONT_HEX, 'hex');
const GLYPH_WIDTH = 5;
const CAP_HEIGHT = 7;
const GLYPH_ROWS = 8; // g, j, p, q and y reach one row below the baseline
const TEXT_SCALE = 2;

type Align = 'left' | 'center' | 'right';
interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

class Raster {
  readonly width: number;
  readonly height: number;
  readonly pixels: Buffer;

  // Plain fields, not parameter properties: Node's type stripping runs this file unbuilt.
  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.pixels = Buffer.alloc(width * height * CHANNELS);
    this.fillRect(0, 0, width, height, BACKGROUND);
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    const left = Math.max(0, Math.round(x));
    const top = Math.max(0, Math.round(y));
    const right = Math.min(this.width, Math.round(x + w));
    const bottom = Math.min(this.height, Math.round(y + h));
    for (let row = top; row < bottom; row++) {
      for (let col = left; col < right; col++) {
        this.pixels.set(color, (row * this.width + col) * CHANNELS);
      }
    }
  }

  // Draws one line of text whose top edge is at y; x is its left edge, centre or right edge.
  text(value: string, x: number, y: number, color: Rgb, align: Align = 'left', scale = TEXT_SCALE): void {
    const start =
      align === 'left' ? x : align === 'center' ? x - textWidth(value, scale) / 2 : x - textWidth(value, scale);
    [...value].forEach((char, i) => {
      const code = char.charCodeAt(0);
      const glyph = (code >= 32 && code <= 126 ? code : 63) - 32; // '?' for anything unprintable
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        const bits = FONT[glyph * GLYPH_WIDTH + col] ?? 0;
        for (let row = 0; row < GLYPH_ROWS; row++) {
          if ((bits >> row) & 1) {
            const left = Math.round(start) + (i * (GLYPH_WIDTH + 1) + col) * scale;
            this.fillRect(left, Math.round(y) + row * scale, scale, scale, color);
          }
        }
      }
    });
  }
}

function textWidth(value: string, scale = TEXT_SCALE): number {
  const chars = [...value].length;
  return chars === 0 ? 0 : (chars * (GLYPH_WIDTH + 1) - 1) * scale;
}

// The smallest 1/2/2.5/5 x 10^k step that covers max in at most five intervals (so three to five).
function yAxis(max: number): { step: number; axisMax: number } {
  const magnitude = 10 ** Math.floor(Math.log10(max / 5));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => Math.ceil(max / s) <= 5) ?? 10 * magnitude;
  return { step, axisMax: Math.ceil(max / step) * step };
}

function formatNumber(value: number): string {
  return Math.abs(value) >= 10 ? String(Math.round(value)) : String(Number(value.toFixed(2)));
}

export function renderBarChartPng(chart: BarChart): Buffer {
  const { width = 1000, height = 560, groups, series } = chart;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 200 || height < 150) {
    throw new RangeError(`chart size must be whole pixels, at least 200x150 (got ${width}x${height})`);
  }
  const badSeries = series.find((s) => s.values.length !== groups.length);
  if (badSeries !== undefined) {
    throw new RangeError(
      `series "${badSeries.name}" has ${badSeries.values.length} values for ${groups.length} groups`,
    );
  }
  const raster = new Raster(width, height);
  const lineHeight = GLYPH_ROWS * TEXT_SCALE;
  raster.text(chart.title, width / 2, 16, INK, 'center', 3);
  const legendBottom = drawLegend(raster, series, 56);

  const values = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const { step, axisMax } = yAxis(Math.max(0, ...values) || 1);
  const ticks = Array.from({ length: Math.round(axisMax / step) + 1 }, (_, i) => i * step);
  const plotLeft = 24 + Math.max(textWidth(chart.unit), ...ticks.map((t) => textWidth(formatNumber(t))));
  const plotRight = width - 24;
  const plotTop = legendBottom + 24 + lineHeight * 2;
  const plotBottom = height - 24 - lineHeight * 2;
  const yOf = (value: number): number => plotBottom - (Math.max(0, value) / axisMax) * (plotBottom - plotTop);

  raster.text(chart.unit, plotLeft - 12, plotTop - lineHeight - 16, INK, 'right');
  for (const tick of ticks) {
    raster.fillRect(plotLeft, yOf(tick), plotRight - plotLeft, 1, GRID);
    raster.text(formatNumber(tick), plotLeft - 12, yOf(tick) - (CAP_HEIGHT * TEXT_SCALE) / 2, INK, 'right');
  }
  raster.fillRect(plotLeft, plotTop - 8, 2, plotBottom - plotTop + 8, AXIS);
  raster.fillRect(plotLeft, plotBottom, plotRight - plotLeft, 2, AXIS);

  const groupWidth = (plotRight - plotLeft) / Math.max(1, groups.length);
  const slot = (groupWidth * 0.84) / Math.max(1, series.length);
  const barWidth = Math.max(1, Math.round(slot * 0.84));
  groups.forEach((group, g) => {
    const groupLeft = plotLeft + g * groupWidth + groupWidth * 0.08;
    raster.text(group, groupLeft + groupWidth * 0.42, plotBottom + 12, INK, 'center');
    const bars = series.flatMap((s, i) => {
      const value = s.values[g];
      if (value === null || value === undefined || !Number.isFinite(value)) {
        return [];
      }
      const x = Math.round(groupLeft + i * slot + slot * 0.08);
      const y = Math.round(yOf(value));
      return [{ value, color: seriesColor(i), x, y, w: barWidth, h: plotBottom - y }];
    });
    bars.forEach((bar) => raster.fillRect(bar.x, bar.y, bar.w, bar.h, bar.color));
    drawValueLabels(raster, bars);
  });
  return encodePng(raster);
}

// A label sits centred above its bar at 2x, or at 1x where 2x would overlap another bar or label.
function drawValueLabels(raster: Raster, bars: readonly (Rect & { readonly value: number })[]): void {
  const taken: Rect[] = [...bars];
  for (const bar of bars) {
    const label = formatNumber(bar.value);
    const place = (scale: number): Rect => {
      const w = textWidth(label, scale);
      return { x: bar.x + bar.w / 2 - w / 2, y: bar.y - 6 - CAP_HEIGHT * scale, w, h: CAP_HEIGHT * scale };
    };
    const large = place(TEXT_SCALE);
    const spot = taken.some((other) => overlaps(other, large, 1)) ? place(1) : large;
    taken.push(spot);
    raster.text(label, spot.x, spot.y, INK, 'left', spot.h / CAP_HEIGHT);
  }
}

function overlaps(a: Rect, b: Rect, margin: number): boolean {
  return a.x < b.x + b.w + margin && b.x < a.x + a.w + margin && a.y < b.y + b.h + margin && b.y < a.y + a.h + margin;
}

// Lays out swatch + name entries left to right, wrapping into centred rows; returns the bottom edge.
function drawLegend(raster: Raster, series: readonly ChartSeries[], top: number): number {
  const swatch = CAP_HEIGHT * TEXT_SCALE;
  const entries = series.map((s, i) => ({
    name: s.name,
    color: seriesColor(i),
    width: swatch + 8 + textWidth(s.name),
  }));
  const rows: (typeof entries)[] = [];
  for (const entry of entries) {
    const row = rows.at(-1);
    if (row !== undefined && rowWidth([...row, entry]) <= raster.width - 48) {
      row.push(entry);
    } else {
      rows.push([entry]);
    }
  }
  rows.forEach((row, r) => {
    const y = top + r * (swatch + 12);
    let x = (raster.width - rowWidth(row)) / 2;
    for (const { name, color, width } of row) {
      raster.fillRect(x, y, swatch, swatch, color);
      raster.text(name, x + swatch + 8, y, INK);
      x += width + LEGEND_GAP;
    }
  });
  return top + rows.length * (swatch + 12) - 12;
}

function rowWidth(entries: readonly { readonly width: number }[]): number {
  return entries.reduce((sum, e) => sum + e.width, 0) + LEGEND_GAP * (entries.length - 1);
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) {
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

function encodePng({ width, height, pixels }: Raster): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, adaptive filtering, no interlace
  const rowBytes = width * CHANNELS;
  const scanlines = Buffer.alloc(height * (1 + rowBytes)); // filter byte 0 (None) leads every row
  for (let row = 0; row < height; row++) {
    pixels.copy(scanlines, row * (1 + rowBytes) + 1, row * rowBytes, (row + 1) * rowBytes);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(scanlines)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
