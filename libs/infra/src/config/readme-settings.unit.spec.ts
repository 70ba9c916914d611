import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from './settings-catalog';

// The README's settings table must stay true: every setting, with its default.
describe('README settings table', () => {
  const readme = readFileSync(join(__dirname, '../../../../README.md'), 'utf8');
  it.each(SETTINGS.map((s) => [s.name, s]))('documents %s with its default', (_name, s) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${s.name}\` |`));
    expect(row).toBeDefined();
    if (s.default !== undefined) expect(row).toContain(`\`${s.default}\``);
  });
});
