#!/usr/bin/env node
// Turns a core wasm32-wasi module into a WebAssembly component with the pinned jco packages.
//
//   node scripts/build-component.mjs --module IN.wasm --out OUT.wasm
//        [--kind command|reactor] [--wit DIR-or-FILE --world NAME]
//
// Without --wit the module is a plain preview1 program: the preview1 adapter alone makes it a
// wasi:cli/command (or, with --kind reactor, a component exporting what the module exports
// through the reactor adapter's world). With --wit the module's own imports/exports are
// described by that world; it is embedded first, then the adapter is applied.
//
// The WIT given is staged in a temporary directory together with the WASI 0.2.12 packages and
// wasi:tls@0.2.0-draft that ship inside jco, so a world may `import wasi:sockets/tcp@0.2.12;`
// or `include wasi:cli/imports@0.2.12;` without carrying its own deps/. A deps/ folder next to
// the given WIT wins over the bundled package of the same name. The SDK's package
// (guest/wit, `wasitls:guest`) is added the same way.
//
// Why the API and not the `jco embed` command: the command runs wasm-tools inside a WASI sandbox
// that gets no preopened directories, so `--wit DIR` fails with "No such file or directory".
// The same tool imported as a library shares the preview2-shim instance whose preopens we set.

import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync,
         copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const modules = process.env.WASITLS_NODE_MODULES || join(root, 'node_modules');
const jcoLib = join(modules, '@bytecodealliance/jco/lib');
const builtin = join(jcoLib, 'wit/builtin');

function usage(msg) {
    if (msg) process.stderr.write(`build-component: ${msg}\n`);
    process.stderr.write('usage: build-component.mjs --module IN.wasm --out OUT.wasm ' +
                         '[--kind command|reactor] [--wit PATH --world NAME]\n');
    process.exit(64);
}

function parseArgs(argv) {
    const o = { kind: 'command' };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const val = () => {
            if (i + 1 >= argv.length) usage(`${a} needs a value`);
            return argv[++i];
        };
        switch (a) {
        case '--module': o.module = val(); break;
        case '--out': o.out = val(); break;
        case '--kind': o.kind = val(); break;
        case '--wit': o.wit = val(); break;
        case '--world': o.world = val(); break;
        case '-h': case '--help': usage();
        default: usage(`unknown argument ${a}`);
        }
    }
    if (!o.module || !o.out) usage('--module and --out are required');
    if (o.kind !== 'command' && o.kind !== 'reactor') usage('--kind is command or reactor');
    if (o.world && !o.wit) usage('--world needs --wit');
    return o;
}

// The preview2-shim whose preopens matter is the one the vendored wasm-tools imports, i.e. the
// copy that resolves from jco-transpile's own directory.
async function importShimFilesystem() {
    const candidates = [
        join(modules, '@bytecodealliance/jco-transpile/node_modules/@bytecodealliance/preview2-shim'),
        join(modules, '@bytecodealliance/preview2-shim'),
    ];
    for (const dir of candidates) {
        const f = join(dir, 'dist/nodejs/filesystem.js');
        if (existsSync(f)) return import(pathToFileURL(f).href);
    }
    throw new Error(`preview2-shim not found under ${modules} (run npm ci)`);
}

function copyWitTree(src, dst) {
    mkdirSync(dst, { recursive: true });
    for (const e of readdirSync(src, { withFileTypes: true })) {
        const s = join(src, e.name);
        const d = join(dst, e.name);
        if (e.isDirectory()) copyWitTree(s, d);
        else if (e.name.endsWith('.wit')) copyFileSync(s, d);
    }
}

// Lays out DIR/{*.wit, deps/<pkg>/...}: the caller's WIT, then every bundled package not
// already provided by the caller's deps/.
function stageWit(witArg, stage) {
    const src = resolve(witArg);
    if (!existsSync(src)) throw new Error(`WIT path ${witArg} does not exist`);
    if (statSync(src).isDirectory()) copyWitTree(src, stage);
    else copyFileSync(src, join(stage, basename(src)));

    const deps = join(stage, 'deps');
    mkdirSync(deps, { recursive: true });
    const have = new Set(readdirSync(deps));
    const bundled = [];
    for (const pkg of ['wasi-io', 'wasi-clocks', 'wasi-random', 'wasi-cli', 'wasi-filesystem',
                       'wasi-sockets']) {
        bundled.push([pkg.replace(/^wasi-/, ''), join(builtin, '0.2.12', pkg)]);
    }
    bundled.push(['tls', join(builtin, 'wasi-tls-0.2.0-draft')]);
    // The SDK's own package, so a test's world can `include wasitls:guest/sdk;`.
    const sdkWit = join(root, 'guest/wit');
    if (resolve(src) !== sdkWit) bundled.push(['wasitls-guest', sdkWit]);
    for (const [name, dir] of bundled) {
        if (have.has(name) || have.has(`wasi-${name}`)) continue;
        const d = join(deps, name);
        mkdirSync(d);
        for (const f of readdirSync(dir)) {
            if (f.endsWith('.wit')) copyFileSync(join(dir, f), join(d, f));
        }
    }
}

// What guest/README.md says a C module needs with Debian's wasi-libc: an exported
// cabi_realloc (else the preview1 adapter allocates behind malloc's back) and, in a command,
// no exports wrapped by the linker in constructors/destructors (guest/src/start.c). Warns only.
function warnStartFiles(binary) {
    let mod;
    try {
        mod = new WebAssembly.Module(binary);
    } catch {
        return; // componentNew reports what is wrong with it
    }
    const exps = WebAssembly.Module.exports(mod).map((e) => e.name);
    const hint = 'link guest/src/start.c and guest/src/realloc.c with -nostartfiles, see ' +
                 'guest/README.md';
    if (!exps.includes('cabi_realloc')) {
        process.stderr.write('build-component: warning: the module exports no cabi_realloc: a ' +
                             `large heap will overwrite the preview1 adapter's state (${hint})\n`);
    }
    const names = WebAssembly.Module.customSections(mod, 'name');
    if (names.length && Buffer.from(names[0]).includes('.command_export')) {
        process.stderr.write('build-component: warning: the linker wrapped the exports in ' +
                             'constructors and destructors: buffered stdio breaks when the host ' +
                             `returns a list (${hint})\n`);
    }
}

async function main() {
    const o = parseArgs(process.argv.slice(2));
    const fs = await importShimFilesystem();
    fs._setPreopens({ '/': '/' });
    const tools = await import(
        pathToFileURL(join(modules, '@bytecodealliance/jco-transpile/dist/wasm-tools.js')).href);

    let binary = new Uint8Array(readFileSync(o.module));
    warnStartFiles(binary);
    let stage;
    try {
        if (o.wit) {
            stage = mkdtempSync(join(tmpdir(), 'wasitls-wit-'));
            stageWit(o.wit, stage);
            const opts = { binary, witPath: stage };
            if (o.world) opts.world = o.world;
            binary = await tools.componentEmbed(opts);
        }
        const adapter = readFileSync(join(jcoLib, `wasi_snapshot_preview1.${o.kind}.wasm`));
        const component = await tools.componentNew(binary, [['wasi_snapshot_preview1', adapter]]);
        // Write beside the target and rename so a failed build never leaves a half file that a
        // later make would consider up to date.
        const tmp = `${o.out}.tmp${process.pid}`;
        writeFileSync(tmp, component);
        renameSync(tmp, o.out);
    } finally {
        if (stage) rmSync(stage, { recursive: true, force: true });
    }
}

main().catch((e) => {
    const msg = e && e.payload !== undefined ? e.payload : e;
    let text = `${msg && msg.stack ? msg.stack : msg}`;
    if (/missing component metadata for import/.test(text) && !process.argv.includes('--wit')) {
        text += '\n(the module calls WIT imports directly: give their world with --wit; for ' +
                'programs using the guest SDK: --wit guest/wit --world wasitls-guest)';
    }
    process.stderr.write(`build-component: ${text}\n`);
    process.exit(1);
});
