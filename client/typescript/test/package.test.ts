// The package as a user installs it: `npm pack`, installed into a fresh project, imported from ESM and from CommonJS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('npm pack gives a tarball that installs and imports from ESM and CommonJS, with its types', () => {
  const project = mkdtempSync(path.join(os.tmpdir(), 'oq-ts-app-'));
  try {
    const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', project], { cwd: here, encoding: 'utf8' }).trim().split('\n').pop()!;
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', path.join(project, packed)], { cwd: project, stdio: 'pipe' });
    const esm = execFileSync(process.execPath, ['--input-type=module', '-e',
      "import { OrleansQueue, queuedFetch, QueueFull } from 'orleansqueue'; console.log(typeof OrleansQueue, typeof queuedFetch, new QueueFull(429, 't', 'd') instanceof Error)"],
    { cwd: project, encoding: 'utf8' });
    assert.equal(esm.trim(), 'function function true');
    const cjs = execFileSync(process.execPath, ['-e',
      "const oq = require('orleansqueue'); console.log(typeof oq.OrleansQueue, typeof oq.parseUpstreamHeaders, Object.keys(oq.problemTypes).length > 10)"],
    { cwd: project, encoding: 'utf8' });
    assert.equal(cjs.trim(), 'function function true');
    const types = path.join(project, 'node_modules', 'orleansqueue', 'dist', 'esm', 'index.d.ts');
    assert.ok(execFileSync('cat', [types], { encoding: 'utf8' }).includes('queuedFetch'));
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});
