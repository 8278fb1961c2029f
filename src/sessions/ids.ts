import { HaulError } from '../errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else is NOT_FOUND before it reaches the database. */
export function parseId(id: string, what: string): string {
  if (typeof id !== 'string' || !UUID.test(id)) throw new HaulError('NOT_FOUND', `${what} not found`);
  return id.toLowerCase();
}

/** A device id: what the client calls itself; printable, at most 128 characters. */
export function parseClientId(clientId: string | null | undefined): string {
  const c = clientId ?? 'default';
  if (c.length === 0 || c.length > 128 || !/^[\x21-\x7e]+$/.test(c))
    throw new HaulError('BAD_USER_INPUT', 'clientId must be 1-128 printable ASCII characters without spaces');
  return c;
}
