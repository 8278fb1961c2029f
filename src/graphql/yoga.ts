import { GraphQLError } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { HaulError } from '../errors.ts';
import type { Context } from './context.ts';
import { limitRules } from './limits.ts';
import { schema } from './schema/index.ts';

/** Turns a HaulError into a GraphQL error with its stable code; masks everything else. */
export function toGraphQLError(error: unknown): GraphQLError {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (original instanceof HaulError) {
    return new GraphQLError(original.message, {
      ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
      extensions: { code: original.code, retryable: original.retryable },
    });
  }
  if (error instanceof GraphQLError && !error.originalError) return error;
  return new GraphQLError('Unexpected error.', {
    ...(error instanceof GraphQLError ? { path: error.path } : {}),
    extensions: { code: 'INTERNAL', retryable: true },
  });
}

export function createGraphQLHandler(opts: {
  limits: { maxDepth: number; maxAliases: number };
  onUnexpected: (error: unknown) => void;
}) {
  const rules = limitRules(opts.limits);
  const limits: Plugin = {
    onValidate({ addValidationRule }) {
      for (const r of rules) addValidationRule(r);
    },
  };
  return createYoga<Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    logging: false,
    plugins: [limits],
    maskedErrors: {
      maskError(error) {
        const out = toGraphQLError(error);
        if (out.extensions.code === 'INTERNAL') opts.onUnexpected(error);
        return out;
      },
    },
  });
}

export { schema };
