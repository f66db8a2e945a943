#!/usr/bin/env node
// Builds the JavaScript test component with the pinned componentize-js:
//   node build.mjs SOURCE.js WORLD.wit WORLD-NAME OUT.wasm
import { register } from 'node:module';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const modules = process.env.WASITLS_NODE_MODULES || resolve(here, '../../../node_modules');
process.env.WASITLS_NODE_MODULES = modules;
register(pathToFileURL(join(here, 'hooks.mjs')).href);

const [, , source, wit, world, out] = process.argv;
const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem');
_setPreopens({ '/': '/' }); // the splicer reads the WIT through WASI
const { componentize } = await import(
    pathToFileURL(join(modules, '@bytecodealliance/componentize-js/src/componentize.js')).href);
const { component } = await componentize({
    sourcePath: resolve(source), witPath: resolve(wit), worldName: world,
    disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
writeFileSync(out, component);
