#!/usr/bin/env node
// Runs the test component on jco's own host (jco transpile + Node) and prints, for each call of
// the shared input table, the result in the canonical text form that test_js.c also prints.
//   node expected.mjs COMPONENT.wasm > expected.txt
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const modules = process.env.WASITLS_NODE_MODULES || resolve(here, '../../../node_modules');
const { transpileBytes } = await import(pathToFileURL(join(modules, '@bytecodealliance/jco-transpile/dist/index.js')).href);

const bytes = readFileSync(process.argv[2]);
const { files } = await transpileBytes(bytes, { name: 'api' });
const dir = mkdtempSync(join(tmpdir(), 'wasitls-js-'));
try {
    for (const [name, data] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, name)), { recursive: true });
        writeFileSync(join(dir, name), data);
    }
    const mod = await import(pathToFileURL(join(dir, 'api.js')).href);
    const api = mod.api || mod['test:js/api@0.1.0'];

    // Canonical text: records {a,b}, tuples (a,b), lists [a,b], variants vN(x) / vN,
    // enums eN, flags fN (bit mask), options none/some(x), results ok(x)/err(x), strings as JSON.
    const fmtNum = (x) => (Object.is(x, -0) ? '-0' : String(x));
    const T = {
        str: (v) => JSON.stringify(v),
        int: (v) => String(v),
        f64: (v) => fmtNum(v),
        bool: (v) => String(v),
        list: (t) => (v) => '[' + Array.from(v, t).join(',') + ']',
        option: (t) => (v) => (v === undefined || v === null ? 'none' : `some(${t(v)})`),
        record: (...fs) => (v) => '{' + fs.map(([k, t]) => t(v[k])).join(',') + '}',
        tuple: (...ts) => (v) => '(' + ts.map((t, i) => t(v[i])).join(',') + ')',
        enumOf: (...names) => (v) => 'e' + names.indexOf(v),
        flagsOf: (...names) => (v) => 'f' + names.reduce((m, n, i) => m | (v[n] ? 1 << i : 0), 0),
    };
    const point = T.record(['x', T.int], ['y', T.int], ['label', T.str]);
    const color = T.enumOf('red', 'green', 'blue');
    const perms = T.flagsOf('read', 'write', 'exec');
    const result = (ok, err) => (f) => {
        try {
            return `ok(${ok(f())})`;
        } catch (e) {
            // jco throws the err payload itself (older versions: a ComponentError carrying it)
            if (e instanceof Error && !('payload' in e)) throw e;
            return `err(${err(e instanceof Error ? e.payload : e)})`;
        }
    };
    const plain = (t) => (f) => t(f());
    const cases = [
        ['greet', plain(T.str), () => api.greet('World')],
        ['greet', plain(T.str), () => api.greet('h\u00e9llo w\u00f6rld \u{1F600}')],
        ['sum', plain(T.int), () => api.sum([1, 2, 3, -10])],
        ['sum', plain(T.int), () => api.sum([100000, 200000, -5])],
        ['mirror', plain(point), () => api.mirror({ x: 3, y: -4, label: 'abc' })],
        ['area', plain(T.f64), () => api.area({ tag: 'circle', val: 2 })],
        ['area', plain(T.f64), () => api.area({ tag: 'rect', val: { x: 3, y: -5, label: 'r' } })],
        ['area', plain(T.f64), () => api.area({ tag: 'empty' })],
        ['maybe', plain(T.option(T.str)), () => api.maybe(undefined)],
        ['maybe', plain(T.option(T.str)), () => api.maybe(42)],
        ['check', result(T.int, T.str), () => api.check(21)],
        ['check', result(T.int, T.str), () => api.check(-7)],
        ['words', plain(T.list(T.str)), () => api.words('  the quick  brown fox ')],
        ['paint', plain(T.tuple(color, perms, T.bool)), () => api.paint('blue', { read: true, write: false, exec: true })],
        ['paint', plain(T.tuple(color, perms, T.bool)), () => api.paint('red', { read: false, write: true, exec: false })],
        ['reverse', plain(T.list(T.int)), () => api.reverse(Uint8Array.from([1, 2, 3, 255, 0]))],
        ['points', plain(T.list(point)), () => api.points(3)],
    ];
    for (const [name, fmt, call] of cases)
        process.stdout.write(`${name} ${fmt(call)}\n`);
} finally {
    rmSync(dir, { recursive: true, force: true });
}
