// Suites are picked by file suffix: *.unit.spec.ts (pure, fast), *.int.spec.ts (real
// databases/servers, adapters), *.e2e.spec.ts (the HTTP service end to end), *.deploy.spec.ts
// (the shipped artifacts run: images, docker compose, Helm on a real API server).
const swc = ['@swc/jest', {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
}];
// The Nest monorepo aliases of tsconfig.json's `paths`: apps say which library they use.
const moduleNameMapper = {
  '^@app/(domain|infra)$': '<rootDir>/libs/$1/src',
  '^@app/(domain|infra)/(.*)$': '<rootDir>/libs/$1/src/$2',
};
const base = { moduleNameMapper, transform: { '^.+\\.ts$': swc }, testEnvironment: 'node', roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'] };
module.exports = {
  // Hooks start whole apps (and, in e2e, their stack clients): on a loaded 2-core machine a start
  // took more than 30 s (fresh-clone run under load average 20: 54 beforeAll timeouts, no assertion
  // failed). A test that passes is no slower; one that hangs fails after a minute instead.
  testTimeout: 60000,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['**/*.unit.spec.ts'] },
    { ...base, displayName: 'int', testMatch: ['**/*.int.spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['**/*.e2e.spec.ts'] },
    // Built images, docker compose and a Kubernetes control plane for real (scripts/images,
    // scripts/kube); run by scripts/test-all after `scripts/images build`, one file at a time.
    { ...base, displayName: 'deploy', testMatch: ['<rootDir>/test/deploy/**/*.deploy.spec.ts'] },
  ],
};
