// Runs once before all specs: every service the tests need must answer (a missing one fails the
// run, it never skips tests), and the test database gets the migrations.
import './support/test-env.ts';
import { connect } from 'node:net';
import { migrate } from '../tools/db/migrate.ts';

async function reachable(name: string, url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.end();
      resolve();
    });
    socket.setTimeout(3_000, () => socket.destroy(new Error('timeout')));
    socket.on('error', (error) =>
      reject(new Error(`${name} is not reachable at ${hostname}:${port} (${error.message}); run npm run services:up`)),
    );
  });
}

export async function globalSetup(): Promise<void> {
  await reachable('PostgreSQL', process.env.DATABASE_URL!);
  await reachable('Redis', process.env.REDIS_URL!);
  await reachable('S3 (Ceph RGW)', process.env.S3_ENDPOINT!);
  await migrate(process.env.DATABASE_URL!);
}
