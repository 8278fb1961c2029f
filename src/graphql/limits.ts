import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';

/**
 * Validation rules that refuse abusive documents before execution: too deep (nested
 * selections, following fragments) or too many aliases (the classic batching amplifier).
 * Both answer QUERY_TOO_COMPLEX.
 */
export function limitRules(limits: { maxDepth: number; maxAliases: number }) {
  const tooComplex = (message: string) => new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX' } });

  const depthRule = (ctx: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of ctx.getDocument().definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);

    const depthOf = (set: SelectionSetNode | undefined, seen: Set<string>): number => {
      if (!set) return 0;
      let max = 0;
      for (const sel of set.selections) {
        let d = 0;
        if (sel.kind === Kind.FIELD) d = sel.selectionSet ? 1 + depthOf(sel.selectionSet, seen) : 1;
        else if (sel.kind === Kind.INLINE_FRAGMENT) d = depthOf(sel.selectionSet, seen);
        else {
          const name = sel.name.value;
          // A fragment cycle is reported by graphql's own NoFragmentCycles rule; stop here.
          if (seen.has(name)) continue;
          d = depthOf(fragments.get(name)?.selectionSet, new Set(seen).add(name));
        }
        if (d > max) max = d;
        if (max > limits.maxDepth) return max;
      }
      return max;
    };

    return {
      OperationDefinition(op) {
        const depth = depthOf(op.selectionSet, new Set());
        if (depth > limits.maxDepth) ctx.reportError(tooComplex(`query depth ${depth} exceeds the limit of ${limits.maxDepth}`));
      },
    };
  };

  const aliasRule = (ctx: ValidationContext): ASTVisitor => {
    let aliases = 0;
    return {
      Field(node) {
        if (node.alias && ++aliases === limits.maxAliases + 1)
          ctx.reportError(tooComplex(`more than ${limits.maxAliases} aliases in one document`));
      },
    };
  };

  return [depthRule, aliasRule];
}
