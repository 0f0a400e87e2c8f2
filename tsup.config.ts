import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    providers: 'src/providers/index.ts',
    cost: 'src/cost/index.ts',
    resilience: 'src/resilience/index.ts',
    routing: 'src/routing/index.ts',
    observability: 'src/observability/index.ts',
    stores: 'src/stores/index.ts',
    testing: 'src/testing/index.ts',
    redis: 'src/stores/redis/index.ts',
    otel: 'src/observability/otel.ts',
    bullmq: 'src/bullmq/index.ts',
    'ai-sdk': 'src/ai-sdk/index.ts',
    // spawnProviderSimulator starts this file in a child process, from the same folder.
    'simulator-process': 'src/testing/simulator-process.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  // No source maps in the package: the output is not minified and keeps every name, so stack traces
  // already read like the source; maps would add ~2 MB and point at src/ files we do not ship.
  sourcemap: false,
  // Shared chunks in CJS too: one copy of each class, so instanceof holds across subpaths.
  splitting: true,
  clean: true,
  target: 'es2022',
  treeshake: true,
  loader: { '.lua': 'text' },
  external: ['ioredis', '@opentelemetry/api', 'bullmq'],
});
