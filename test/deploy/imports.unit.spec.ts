// Apps, tests and benchmarks import the libraries by name (@app/domain, @app/infra), never by
// a relative path into libs/: a file then says which library it uses (STYLE.md, "Habits").
import { readdirSync, readFileSync } from 'fs';
import { join, relative } from 'path';

const root = join(__dirname, '../..');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === 'node_modules' || e.name === 'dist' ? [] : e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
const relativeIntoLibs = /(?:from\s+|import\(|require\()['"](\.\.?\/[^'"]*libs\/(?:domain|infra)\/src[^'"]*)['"]/g;

describe('imports by name', () => {
  it.each(['apps', 'test', 'bench'])('%s/ reaches the libraries only through @app/domain and @app/infra', (dir) => {
    const offenders = files(join(root, dir)).flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(relativeIntoLibs)].map((m) => `${relative(root, f)}: ${m[1]}`),
    );
    expect(offenders).toEqual([]);
  });

  it('libs/infra reaches the domain only through @app/domain', () => {
    const offenders = files(join(root, 'libs/infra/src')).flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/from\s+['"](\.\.\/[^'"]*domain\/src[^'"]*)['"]/g)].map((m) => `${relative(root, f)}: ${m[1]}`),
    );
    expect(offenders).toEqual([]);
  });
});
