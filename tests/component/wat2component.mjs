#!/usr/bin/env node
// Builds test components from WebAssembly text with the pinned jco packages (wasm-tools parse).
//   node wat2component.mjs IN.wat OUT.wasm
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const modules = process.env.WASITLS_NODE_MODULES || join(root, 'node_modules');
const [, , input, output] = process.argv;
if (!input || !output) {
    process.stderr.write('usage: wat2component.mjs IN.wat OUT.wasm\n');
    process.exit(64);
}
const tools = await import(
    pathToFileURL(join(modules, '@bytecodealliance/jco-transpile/dist/wasm-tools.js')).href);
try {
    const bytes = await tools.parse(readFileSync(input, 'utf8'));
    writeFileSync(output, bytes);
} catch (e) {
    process.stderr.write(`${input}: ${e.message || e}\n`);
    process.exit(1);
}
