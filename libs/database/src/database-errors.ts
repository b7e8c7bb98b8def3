// Prisma and driver errors, translated where the repository calls them.
import { DependencyUnavailableError } from '@koodrive/errors';
import { Prisma } from './generated/prisma/client.js';

// Prisma's codes for "could not reach / lost the server / timed out / pool exhausted / a
// transaction past its bound (P2028)".
const UNAVAILABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
// socket errors, and PostgreSQL's: 57014 a statement cancelled by statement_timeout, 55P03 a lock
// not had in time, 57P01/57P03 the server shutting down or starting, 53300 too many connections
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57014',
  '55P03',
  '57P01',
  '57P03',
  '53300',
]);

export function isUnavailable(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientInitializationError) {
    return true;
  }
  if (error instanceof Prisma.PrismaClientKnownRequestError && UNAVAILABLE_CODES.has(error.code)) {
    return true;
  }
  // adapter-pg surfaces socket failures as errors whose cause chain holds the socket error
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && SOCKET_CODES.has(code)) {
      return true;
    }
    if (
      /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Query read timeout|canceling statement due to statement timeout/i.test(
        current.message,
      )
    ) {
      return true;
    }
    current = current.cause;
  }
  return false;
}

export async function translateDatabaseErrors<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw isUnavailable(error) ? new DependencyUnavailableError('database', error) : error;
  }
}
