#!/usr/bin/env node
// Runs a command component on jco's Node host (preview2-shim), for comparing a guest's
// behaviour with wasitls's. wasi:tls is the pass-through stand-in beside this file (no crypto),
// so point TLS guests at plain-text servers. Developer tool; the suite does not use it.
//
//   node guest/tests/node/run.mjs COMPONENT.wasm [ARGS...]
//
// Output to a pipe can be cut short when the guest exits (Node flushes pipes asynchronously);
// redirect stdout to a file for large outputs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const modules = join(root, 'node_modules');
const [component, ...args] = process.argv.slice(2);
if (!component) {
  process.stderr.write('usage: run.mjs COMPONENT.wasm [ARGS...]\n');
  process.exit(64);
}

const dir = mkdtempSync(join(tmpdir(), 'wasitls-jco-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const name = basename(component, '.wasm');
execFileSync(process.execPath, [join(modules, '@bytecodealliance/jco/dist/jco.js'), 'transpile',
  resolve(component), '-o', dir, '-q', '--name', name,
  '--map', `wasi:tls/types@0.2.0-draft=./passthrough-tls.js`], { stdio: 'inherit' });
writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
writeFileSync(join(dir, 'passthrough-tls.js'),
  (await import('node:fs')).readFileSync(join(here, 'passthrough-tls.js')));
// The transpiled code imports @bytecodealliance/preview2-shim: give it jco's own copy.
const shim = [join(modules, '@bytecodealliance/jco/node_modules/@bytecodealliance/preview2-shim'),
  join(modules, '@bytecodealliance/preview2-shim')].find(existsSync);
mkdirSync(join(dir, 'node_modules/@bytecodealliance'), { recursive: true });
symlinkSync(shim, join(dir, 'node_modules/@bytecodealliance/preview2-shim'));

const cli = await import(pathToFileURL(join(shim, 'dist/nodejs/cli.js')).href);
cli._setArgs([name, ...args]);
const mod = await import(pathToFileURL(join(dir, `${name}.js`)).href);
try {
  mod.run.run();
} catch (e) {
  process.stderr.write(`run.mjs: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
}
