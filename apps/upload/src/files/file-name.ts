const MAX_NAME = 250;

// KooDrive's autoRename 2: on a clash, the name gets a timestamp before its extension
// ("report.pdf" -> "report_20261124153012.pdf"); a further attempt adds a counter.
export function timestampedName(name: string, now: Date, attempt: number): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14) + (attempt > 0 ? `-${attempt}` : '');
  const dot = name.lastIndexOf('.');
  const hasExtension = dot > 0 && name.length - dot <= 16;
  const base = hasExtension ? name.slice(0, dot) : name;
  const extension = hasExtension ? name.slice(dot) : '';
  const room = MAX_NAME - extension.length - stamp.length - 1;
  return `${base.slice(0, Math.max(room, 1))}_${stamp}${extension}`;
}
