// Where a V8 heap snapshot's bytes go, by package. Every object is charged to the package of the
// nearest object that dominates it (everything reaching it goes through that one) and belongs to a
// script: a function (its SharedFunctionInfo's script), a SharedFunctionInfo, a script itself, or a
// module's scope (a Context, charged to the functions that close over it). So a module's top-level
// tables go to its package, and so does what its objects alone hold; what several packages share is
// charged to the one that dominates it, or to "(unattributed)" when only the runtime does.
// Also the retained size of each instance of a few classes worth naming (the S3 clients, the
// database pool, the tracer provider...).
//   node --max-old-space-size=4096 bench/heap-breakdown.ts <file.heapsnapshot>
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { packageOfScript } from './profile.ts';

interface Snapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: string[];
      readonly node_types: [string[], ...unknown[]];
      readonly edge_fields: string[];
      readonly edge_types: [string[], ...unknown[]];
    };
  };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
}

export interface HeapBreakdown {
  readonly totalMiB: number;
  // largest first
  readonly byPackage: readonly { readonly name: string; readonly MiB: number }[];
  // the instances of NAMED_CLASSES and what each retains
  readonly instances: readonly { readonly name: string; readonly count: number; readonly retainedMiB: number }[];
}

// classes whose instances' retained size the table names
const NAMED_CLASSES = [
  'S3Client',
  'Pool',
  'Redis',
  'PrismaService',
  'NodeSDK',
  'NodeTracerProvider',
  'TracerProvider',
  'BatchSpanProcessor',
  'NestApplication',
  'Logger',
];

const mib = (bytes: number): number => Number((bytes / 1024 / 1024).toFixed(1));

class Graph {
  readonly count: number;
  readonly firstEdge: Uint32Array;
  private readonly nodeFields: number;
  private readonly edgeFields: number;
  private readonly types: string[];
  private readonly edgeTypes: string[];

  constructor(readonly data: Snapshot) {
    const { meta } = data.snapshot;
    this.nodeFields = meta.node_fields.length;
    this.edgeFields = meta.edge_fields.length;
    this.types = meta.node_types[0];
    this.edgeTypes = meta.edge_types[0];
    this.count = data.nodes.length / this.nodeFields;
    this.firstEdge = new Uint32Array(this.count + 1);
    for (let node = 0, edge = 0; node < this.count; node++) {
      this.firstEdge[node] = edge;
      edge += data.nodes[node * this.nodeFields + 4]! * this.edgeFields;
      this.firstEdge[node + 1] = edge;
    }
  }

  type(node: number): string {
    return this.types[this.data.nodes[node * this.nodeFields]!]!;
  }

  name(node: number): string {
    return this.data.strings[this.data.nodes[node * this.nodeFields + 1]!]!;
  }

  selfSize(node: number): number {
    return this.data.nodes[node * this.nodeFields + 3]!;
  }

  // each edge of `node`: its type, its name (or index), the node it leads to
  *edges(node: number): Generator<[string, string | number, number]> {
    const { edges, strings } = this.data;
    for (let edge = this.firstEdge[node]!; edge < this.firstEdge[node + 1]!; edge += this.edgeFields) {
      const type = this.edgeTypes[edges[edge]!]!;
      const nameOrIndex = edges[edge + 1]!;
      const named = type === 'element' || type === 'hidden' ? nameOrIndex : strings[nameOrIndex]!;
      yield [type, named, edges[edge + 2]! / this.nodeFields];
    }
  }
}

// Immediate dominators (Cooper, Harvey and Kennedy's iteration over reverse postorder), weak edges
// left out; node 0 is the root.
function dominators(graph: Graph): Int32Array {
  const order = new Int32Array(graph.count).fill(-1);
  const postorder: number[] = [];
  const predecessors: number[][] = Array.from({ length: graph.count }, () => []);
  const stack: [number, Generator<[string, string | number, number]>][] = [[0, graph.edges(0)]];
  const seen = new Uint8Array(graph.count);
  seen[0] = 1;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const next = top[1].next();
    if (next.done === true) {
      order[top[0]] = postorder.length;
      postorder.push(top[0]);
      stack.pop();
      continue;
    }
    const [type, , to] = next.value;
    if (type === 'weak') {
      continue;
    }
    predecessors[to]!.push(top[0]);
    if (seen[to] === 0) {
      seen[to] = 1;
      stack.push([to, graph.edges(to)]);
    }
  }
  const idom = new Int32Array(graph.count).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (order[a]! < order[b]!) {
        a = idom[a]!;
      }
      while (order[b]! < order[a]!) {
        b = idom[b]!;
      }
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let i = postorder.length - 2; i >= 0; i--) {
      const node = postorder[i]!;
      let dominator = -1;
      for (const from of predecessors[node]!) {
        if (idom[from] !== -1) {
          dominator = dominator === -1 ? from : intersect(from, dominator);
        }
      }
      if (dominator !== -1 && idom[node] !== dominator) {
        idom[node] = dominator;
        changed = true;
      }
    }
  }
  return idom;
}

// The script (URL) of the nodes that belong to one: scripts, SharedFunctionInfos, functions, and
// the Contexts functions close over.
function scriptsOf(graph: Graph): Map<number, string> {
  const scripts = new Map<number, string>();
  const scriptOf = (node: number): string | undefined => {
    for (const [, name, to] of graph.edges(node)) {
      if (name === 'script') {
        const url = graph.name(to);
        return url.startsWith('file://') || url.startsWith('node:') || url.startsWith('/') ? url : undefined;
      }
    }
    return undefined;
  };
  for (let node = 0; node < graph.count; node++) {
    // a script, and its source (held by the runtime's script list, not by the script alone)
    const url = graph.type(node) === 'code' ? graph.name(node) : '';
    if (url.startsWith('file://') || url.startsWith('node:') || url.startsWith('/')) {
      scripts.set(node, url);
      for (const [, name, to] of graph.edges(node)) {
        if (name === 'source') {
          scripts.set(to, url);
        }
      }
    }
    if (graph.type(node) !== 'closure') {
      continue;
    }
    for (const [, name, to] of graph.edges(node)) {
      if (name === 'shared') {
        const url = scriptOf(to);
        if (url !== undefined) {
          scripts.set(node, url);
          scripts.set(to, url);
          for (const [, edgeName, context] of graph.edges(node)) {
            if (edgeName === 'context' && !scripts.has(context)) {
              scripts.set(context, url);
            }
          }
        }
      }
    }
  }
  return scripts;
}

export function breakDown(data: Snapshot): HeapBreakdown {
  const graph = new Graph(data);
  const idom = dominators(graph);
  const scripts = scriptsOf(graph);
  const labels = new Map<number, string>();
  const labelOf = (node: number): string => {
    const chain: number[] = [];
    let at = node;
    let label: string | undefined;
    for (;;) {
      label = labels.get(at) ?? (scripts.has(at) ? packageOfScript(scripts.get(at)!) : undefined);
      if (label !== undefined || at === 0 || idom[at]! < 0) {
        break;
      }
      chain.push(at);
      at = idom[at]!;
    }
    const found = label ?? '(unattributed: the runtime, shared)';
    chain.forEach((one) => labels.set(one, found));
    return found;
  };
  const byPackage = new Map<string, number>();
  const retained = new Float64Array(graph.count);
  let total = 0;
  for (let node = 0; node < graph.count; node++) {
    const size = graph.selfSize(node);
    total += size;
    retained[node] = retained[node]! + size;
    if (idom[node]! >= 0 || node === 0) {
      const name = labelOf(node);
      byPackage.set(name, (byPackage.get(name) ?? 0) + size);
    }
  }
  // retained sizes: children before their dominators (dominators come first from the root down)
  const depth = new Int32Array(graph.count);
  const byDepth: number[] = [];
  for (let node = 1; node < graph.count; node++) {
    let d = 0;
    for (let at = node; at !== 0 && idom[at]! > 0 && d < 10_000; at = idom[at]!) {
      d++;
    }
    depth[node] = d;
    byDepth.push(node);
  }
  byDepth.sort((a, b) => depth[b]! - depth[a]!);
  for (const node of byDepth) {
    if (idom[node]! >= 0 && idom[node] !== node) {
      retained[idom[node]!] = retained[idom[node]!]! + retained[node]!;
    }
  }
  const instances = NAMED_CLASSES.map((name) => {
    let count = 0;
    let bytes = 0;
    for (let node = 0; node < graph.count; node++) {
      if (graph.type(node) === 'object' && graph.name(node) === name) {
        count += 1;
        bytes += retained[node]!;
      }
    }
    return { name, count, retainedMiB: Number((bytes / 1024 / 1024).toFixed(2)) };
  }).filter((instance) => instance.count > 0);
  return {
    totalMiB: mib(total),
    byPackage: [...byPackage.entries()]
      .sort(([, a], [, b]) => b - a)
      .map(([name, bytes]) => ({ name, MiB: mib(bytes) })),
    instances,
  };
}

export async function heapBreakdown(file: string): Promise<HeapBreakdown> {
  return breakDown(JSON.parse(await readFile(file, 'utf8')) as Snapshot);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await heapBreakdown(process.argv[2]!);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
