// Prisma and driver errors, translated where the repository calls them.
import { DependencyUnavailableError } from '@koodrive/errors';
import { Prisma } from './generated/prisma/client.js';

// Prisma's codes for "could not reach / lost the server / pool exhausted".
const UNAVAILABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P03']);

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

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
    if (/Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/i.test(current.message)) {
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
