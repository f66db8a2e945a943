/* `wasitls compile FILE.wasm [--tier fast|opt] [--cache-dir DIR]`: compiles a component's core
 * modules (or a core module) into the code cache ahead of time, so that later runs skip
 * translation and compilation. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clicommon.h"
#include "wasitls/engine.h"
#ifdef WASITLS_HAVE_COMPONENT
#include "wasitls/component.h"
#endif

static const char usage_text[] =
    "usage: wasitls compile [OPTIONS] FILE.wasm\n"
    "\n"
    "Translates and compiles FILE.wasm (a component's core modules, or a core module) into\n"
    "the compiled-code cache, so that later runs start without compiling. Fails (exit 1)\n"
    "when the cache directory cannot be written; exit 2 for a usage error.\n"
    "\n"
    "  --tier fast|opt     tier to compile for (default fast)\n"
    "  --cache-dir DIR     cache directory (default $WASITLS_CACHE_DIR, else\n"
    "                      $XDG_CACHE_HOME/wasitls, else ~/.cache/wasitls)\n"
    "  -q, --quiet         no progress output\n"
    "  -h, --help          show this help\n";

int wasitls_cli_compile(int argc, char **argv)
{
    wasitls_engine_config cfg;
    wasitls_engine_config_default(&cfg);
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int k;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if ((k = wasitls__cli_opt(argc, argv, &i, "--tier", &v)) != 0) {
            if (k < 0 || wasitls__cli_tier(v, &cfg.tier)) return 2;
        } else if ((k = wasitls__cli_opt(argc, argv, &i, "--cache-dir", &v)) != 0) {
            if (k < 0) return 2;
            cfg.cache_dir = v;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            cfg.progress = 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "error: unknown option '%s'\n%s", a, usage_text);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "error: only one file may be given\n");
            return 2;
        }
    }
    if (!file) {
        fputs(usage_text, stderr);
        return 2;
    }
    uint8_t *bytes;
    size_t len;
    if (wasitls__cli_read(file, &bytes, &len)) return 1;
    bool component =
        len >= 8 && bytes[4] == 0x0d && bytes[5] == 0 && bytes[6] == 1 && bytes[7] == 0;
#ifndef WASITLS_HAVE_COMPONENT
    if (component) {
        fprintf(
            stderr,
            "error: %s is a component, and this wasitls was built without the component layer\n",
            file);
        free(bytes);
        return 1;
    }
#endif
    {
        /* filling the cache is compile's whole job: a cache it cannot write is an error */
        char cdir[4096];
        const char *why;
        if (wasitls__cli_cache_probe(&cfg, cdir, sizeof cdir, &why)) {
            if (cdir[0])
                fprintf(stderr, "error: cannot write cache directory %s: %s\n", cdir, why);
            else
                fprintf(stderr, "error: %s\n", why);
            free(bytes);
            return 1;
        }
    }
    wasitls_engine *e;
    wasitls_error err;
    char buf[WASITLS_ERROR_MSG_MAX + 64];
    int rc = wasitls_engine_new(&cfg, &e, &err);
    if (rc == 0) {
#ifdef WASITLS_HAVE_COMPONENT
        if (component) {
            /* loading a component compiles each of its core modules into the cache */
            wasitls_component *c = NULL;
            rc = wasitls_component_new(e, bytes, len, &c, &err);
            wasitls_component_free(c);
        } else
#endif
            rc = wasitls_engine_precompile(e, bytes, len, file, &err);
        wasitls_engine_free(e);
    }
    free(bytes);
    if (rc) {
        fprintf(stderr, "error: %s\n", wasitls_error_format(&err, buf, sizeof buf));
        return 1;
    }
    return 0;
}
