#!/usr/bin/env node
// koodrive: the KooDrive upload client.
//   koodrive put <file> [--parallel N] [--part-size 8MiB] [--url URL] [--name NAME] [--auto-rename 2|3|4]
//                [--share-folder ID] (--token TOKEN | --app-id ID --app-secret SECRET --user USER_ID)
// The server, credentials and shared folder also come from KOODRIVE_URL (default
// http://127.0.0.1:3000), KOODRIVE_TOKEN or KOODRIVE_APP_ID/_APP_SECRET/_USER, KOODRIVE_SHARE_FOLDER.
// Progress goes to stderr, the result to stdout. Exit codes: 0 done, 1 failed, 2 usage, 130 interrupted.
// Ctrl-C stops after saving progress; a second Ctrl-C quits at once.
// Tests only: KOODRIVE_CLIENT_PART_DELAY_MS pauses that long before each part, so a test can
// interrupt an upload between parts.
import { randomBytes } from 'node:crypto';
import { parseCommand, USAGE, UsageError } from './cli-options.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, put } from './put-command.js';

// 58 characters of [A-Za-z0-9_-], the length of KooDrive's own trace ids
function newTraceId(): string {
  return `kc${randomBytes(42).toString('base64url')}`;
}

async function main(argv: readonly string[]): Promise<number> {
  let command;
  try {
    command = parseCommand(argv, process.env);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  const interrupt = new AbortController();
  const onSignal = (): void => {
    if (interrupt.signal.aborted) {
      process.exit(EXIT_INTERRUPTED);
    }
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const delay = Number(process.env.KOODRIVE_CLIENT_PART_DELAY_MS ?? 0);
  try {
    return await put({
      options: command.options,
      traceId: newTraceId(),
      signal: interrupt.signal,
      stdout: process.stdout,
      stderr: process.stderr,
      stderrIsTty: process.stderr.isTTY,
      partDelayMs: Number.isFinite(delay) && delay > 0 ? delay : undefined,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

process.exitCode = await main(process.argv.slice(2));
