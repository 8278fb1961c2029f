import SchemaBuilder from '@pothos/core';
import { GraphQLError, Kind } from 'graphql';
import type { FileStatus, SessionStatus } from '../sessions/model.ts';
import type { Context } from './context.ts';

/** The one schema builder; each file in schema/ adds its domain's types and root fields. */
export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  Scalars: {
    ByteCount: { Input: number; Output: number };
    DateTime: { Input: Date; Output: Date };
    SafeInt: { Input: number; Output: number };
  };
}>({ defaultFieldNullability: false });

builder.scalarType('ByteCount', {
  description:
    'A count or offset of bytes: a non-negative integer up to 2^53 − 1, as a JSON number. Inputs are checked by the operation, which answers INVALID_PROGRESS for negative, fractional or oversized values.',
  serialize: (n) => n,
  parseValue: (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new GraphQLError('ByteCount must be a number');
    return v;
  },
  parseLiteral: (ast) => {
    if (ast.kind === Kind.INT || ast.kind === Kind.FLOAT) return Number(ast.value);
    throw new GraphQLError('ByteCount must be a number');
  },
});

builder.scalarType('DateTime', {
  description: 'An instant, as an RFC 3339 / ISO 8601 string in UTC.',
  serialize: (d) => d.toISOString(),
  parseValue: (v) => {
    const d = new Date(String(v));
    if (Number.isNaN(d.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string');
    return d;
  },
});

export const FileStatusEnum = builder.enumType('FileStatus', {
  values: ['PENDING', 'READY', 'FAILED'] as const satisfies readonly FileStatus[],
});

export const SessionStatusEnum = builder.enumType('SessionStatus', {
  values: ['ACTIVE', 'PAUSED', 'COMPLETED', 'EXPIRED'] as const satisfies readonly SessionStatus[],
});

builder.scalarType('SafeInt', {
  description: 'An integer up to 2^53 − 1 that does not fit GraphQL’s 32-bit Int, as a JSON number.',
  serialize: (n) => n,
  parseValue: (v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new GraphQLError('SafeInt must be a safe integer');
    return v;
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
