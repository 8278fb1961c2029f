import { GraphQLError } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { asUnavailable, HaulError } from '../errors.ts';
import type { Context } from './context.ts';
import { limitRules } from './limits.ts';
import { schema } from './schema/index.ts';

/**
 * Turns a HaulError into a GraphQL error with its stable code; masks everything else.
 * Duck-typed on purpose: graphql-ws may load graphql's ESM build while yoga loads its CJS
 * build, so `instanceof GraphQLError` is not reliable across the two transports.
 */
export function toGraphQLError(error: unknown): GraphQLError {
  const located = isGraphQLErrorLike(error) ? error : undefined;
  const original = located ? (located.originalError ?? located) : error;
  const where = located ? { nodes: located.nodes, path: located.path } : {};
  if (original instanceof HaulError) {
    return new GraphQLError(original.message, {
      ...where,
      extensions: { code: original.code, retryable: original.retryable },
    });
  }
  if (located && isOriginalGraphQLError(located)) {
    // graphql's own errors (parse, validation, coercion): safe to show, with a code. A variable
    // coercion error wraps the scalar's own GraphQLError, so follow the chain to its end.
    return new GraphQLError(located.message, {
      ...where,
      extensions: { code: 'BAD_USER_INPUT', ...located.extensions },
    });
  }
  const unavailable = asUnavailable(original);
  if (unavailable)
    return new GraphQLError(unavailable.message, { ...where, extensions: { code: 'UNAVAILABLE', retryable: true } });
  return new GraphQLError('Unexpected error.', { ...where, extensions: { code: 'INTERNAL', retryable: true } });
}

/** True when the error chain ends in a GraphQLError rather than in some thrown exception. */
function isOriginalGraphQLError(e: unknown): boolean {
  return isGraphQLErrorLike(e) && (e.originalError == null || isOriginalGraphQLError(e.originalError));
}

function isGraphQLErrorLike(e: unknown): e is GraphQLError {
  return e instanceof GraphQLError || (e instanceof Error && e.name === 'GraphQLError' && 'extensions' in e);
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
