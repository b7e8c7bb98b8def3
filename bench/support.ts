// What the measuring scripts share: the environment they give the service, the built service as
// a child process, sessions for made-up users, and a raw S3 client. Run with Node's type
// stripping (no build), against the services of `npm run services:up` (their environment, or
// its defaults); the service itself must be built (`npm run build`).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { LOCAL_SERVICES_ENV } from '../tools/services/local-env.ts';
import { SESSION_TTL_SECONDS, UPLOAD_SCOPE, sessionKey } from '../libs/auth/src/session-key.ts';

export type Env = Record<string, string>;

export function serviceEnv(port: number, overrides: Env = {}): Env {
  return {
    ...LOCAL_SERVICES_ENV,
    ...(process.env as Env),
    PORT: String(port),
    HOST: '127.0.0.1',
    OTEL_SDK_DISABLED: 'true',
    ...overrides,
  };
}

// Starts dist/apps/upload/src/main.js and waits until /readyz says yes.
export async function startService(env: Env): Promise<ChildProcess> {
  const service = spawn(process.execPath, ['dist/apps/upload/src/main.js'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${env.PORT}`;
  for (let i = 0; ; i++) {
    if ((await fetch(`${baseUrl}/readyz`).catch(() => null))?.ok === true) {
      return service;
    }
    if (i > 150 || service.exitCode !== null) {
      service.kill();
      throw new Error('the service did not become ready (is it built? are the services up?)');
    }
    await sleep(100);
  }
}

export interface Session {
  readonly token: string;
  readonly userId: string;
  readonly containerId: string;
}

// A user with a session, as KooDrive's session service would write it.
export async function newSession(redis: Redis, prefix: string): Promise<Session> {
  const session = {
    token: randomBytes(24).toString('hex'),
    userId: `${prefix}-${randomBytes(6).toString('hex')}`,
    containerId: `${prefix}-${randomBytes(6).toString('hex')}`,
  };
  await redis.set(
    sessionKey(session.token),
    JSON.stringify({ userId: session.userId, containerId: session.containerId, scopes: [UPLOAD_SCOPE] }),
    'EX',
    SESSION_TTL_SECONDS,
  );
  return session;
}

export function s3Client(env: Env): S3Client {
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
}
