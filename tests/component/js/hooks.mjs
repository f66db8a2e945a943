// componentize-js imports @bytecodealliance/preview2-shim from the top of node_modules, where
// the pinned tree does not have it; resolve it to the copy jco-transpile carries.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.WASITLS_NODE_MODULES;
const shim = join(modules, '@bytecodealliance/jco-transpile/node_modules/@bytecodealliance/preview2-shim/dist/nodejs');

export async function resolve(specifier, context, next) {
    const m = specifier.match(/^@bytecodealliance\/preview2-shim\/(\w+)$/);
    if (m && existsSync(join(shim, m[1] + '.js')))
        return { url: pathToFileURL(join(shim, m[1] + '.js')).href, shortCircuit: true };
    return next(specifier, context);
}
