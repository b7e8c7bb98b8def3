// Type-aware lint (house style: immich server/eslint.config.mjs), and the rules that hold the
// layout: no import cycles, every lib through its entry point, functions short enough to read.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'apps/web/dist/**',
      'test-results/**',
      '.out/**',
      '.out-*/**',
      'coverage/**',
      'coverage-*/**',
      'node_modules/**',
      'libs/database/src/generated/**',
      '.services/**',
      'prisma.config.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner awaits
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // validation deliberately matches control characters
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // class-validator DTOs are filled by the framework, not by constructors
      '@typescript-eslint/no-extraneous-class': 'off',
      eqeqeq: 'error',
      curly: 'error',
      'import-x/no-cycle': 'error',
      // KooDrive's sizes have one home
      'no-restricted-syntax': [
        'error',
        {
          selector: 'VariableDeclarator[id.name=/^(KIB|MIB|GIB)$/]',
          message: 'import KIB, MIB and GIB from @koodrive/limits',
        },
      ],
      // a lib is reached through its entry point (@koodrive/<name>), never its files
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/libs/**', '@koodrive/*/**', '../../*/src/**'],
              message: 'import the lib through its entry point, @koodrive/<name>',
            },
          ],
        },
      ],
    },
  },
  {
    // a function does one step of the story (tests' describe blocks excepted)
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'tools/**/*.ts', 'bench/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // the upload client's core runs in a browser too: nothing of Node's (its specs excepted)
    files: ['libs/upload-client/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/libs/**', '@koodrive/*/**', '../../*/src/**'],
              message: 'import the lib through its entry point, @koodrive/<name>',
            },
            {
              regex: '^node:|^(fs|path|os|crypto|http|https|net|stream|util|events|buffer|child_process|url|zlib)(/|$)',
              message: "the upload client's core runs in browsers: no Node modules (platform code goes in the app)",
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', '__dirname', '__filename', 'global'].map((name) => ({
          name,
          message: "the upload client's core runs in browsers: no Node globals",
        })),
      ],
    },
  },
  {
    files: ['libs/limits/src/upload-limits.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // the configuration literal: one line a setting
    files: ['libs/config/src/app-config.ts'],
    rules: { 'max-lines-per-function': 'off' },
  },
  {
    files: ['**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
