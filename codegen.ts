import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed documents for the SDK and the tests, generated from the committed SDL and the
// operations in src/client/operations. `npm run codegen` rewrites src/client/generated.
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['src/client/operations/*.graphql'],
  importExtension: '.ts',
  generates: {
    'src/client/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { ByteCount: 'number', DateTime: 'string' },
      },
    },
  },
};

export default config;
