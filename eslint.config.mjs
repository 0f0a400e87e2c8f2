// @ts-check
// ESLint flat config. Bug-catching rules only: formatting is Prettier's job (see .prettierrc.json).
// Every rule is either 'error' or 'off' — no warnings that pile up unread.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const tsFiles = [
  'src/**/*.ts',
  'test/**/*.ts',
  'bench/**/*.ts',
  'demo/**/*.ts',
  'cookbook/**/*.ts',
  '*.ts', // tsup.config.ts, vitest.config.ts
];

export default defineConfig(
  globalIgnores([
    'dist/',
    'bench/.cache/',
    'docs/',
    'node_modules/',
    'coverage/',
    'scratch/',
    '**/*.generated.ts',
  ]),

  {
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
  },

  // This file and any other plain JS at the root.
  {
    files: ['*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
  },

  {
    files: tsFiles,
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      parserOptions: {
        // Type information from tsconfig.json (its `include` covers every folder linted here).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // --- plain ESLint ---
      'no-fallthrough': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // `while (true) { … break; }` is an idiom here; other constant conditions are still bugs.
      'no-constant-condition': ['error', { checkLoops: 'allExceptWhileTrue' }],

      // --- typescript-eslint (syntactic) ---
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          // `const { dropped, ...rest } = x` is how this codebase omits keys.
          ignoreRestSiblings: true,
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',

      // --- typescript-eslint (type-aware) ---
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
    },
  },

  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
