import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

test('npm pack ships the module, its types, the README and package.json, and nothing else', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [pack] = JSON.parse(out);
  assert.equal(pack.name, '@wasm-postmortem/coredump');
  const files = pack.files.map((f) => f.path).sort();
  assert.deepEqual(files, ['README.md', 'index.d.ts', 'index.js', 'package.json']);
});

test('the package resolves by its own name, to the same module, with no dependencies', async () => {
  const byName = await import('@wasm-postmortem/coredump');
  const byPath = await import('../index.js');
  assert.equal(byName, byPath);
  for (const name of ['extractCoredump', 'extractCoredumpFromMemory', 'moduleBuildId', 'recordCoredump', 'withCoredumps']) {
    assert.equal(typeof byName[name], 'function', name);
  }
  assert.equal(manifest.dependencies, undefined);
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.exports['.'].types, './index.d.ts');
});
