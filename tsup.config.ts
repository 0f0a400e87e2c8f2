import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing/index.ts',
    redis: 'src/stores/redis/index.ts',
    otel: 'src/observability/otel.ts',
    // spawnProviderSimulator starts this file in a child process, from the same folder.
    'simulator-process': 'src/testing/simulator-process.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  treeshake: true,
  loader: { '.lua': 'text' },
  external: ['ioredis', '@opentelemetry/api'],
});
