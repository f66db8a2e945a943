/* `wasitls run [OPTIONS] COMPONENT.wasm [ARGS...]`: runs a wasi:cli/command component with the
 * grants the user gives. Entry point: wasitls_cli_run(argc, argv) with argv[0] = "run".
 *
 * Exit status: the guest's (wasi:cli/exit, or 0/1 for run's ok/err); 2 for a usage error;
 * 1 when wasitls itself fails or the guest traps (with `error: ...` on stderr). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "clicommon.h"
#include "wasitls/component.h"
#include "wasitls/cursor.h"
#include "wasitls/engine.h"
#include "wasitls/wasi.h"
#ifdef WASITLS_HAVE_TLS
#include "wasitls/tls.h"
#endif

int wasitls_cli_run(int argc, char **argv);

static const char usage_text[] =
    "usage: wasitls run [OPTIONS] COMPONENT.wasm [ARGS...]\n"
    "\n"
    "Runs a WebAssembly component that exports wasi:cli/run (a WASI 0.2 command). ARGS are\n"
    "passed to the guest; the guest's exit code becomes wasitls's.\n"
    "\n"
    "Grants (nothing is granted by default):\n"
    "  -S tls                   grant wasi:tls (TLS client connections)\n"
    "  -S inherit-network       grant wasi:sockets access to the host's networks\n"
    "  -S allow-ip-name-lookup  grant wasi:sockets/ip-name-lookup\n"
    "                           -S takes a comma list too: -S tls,inherit-network\n"
    "  --dir HOST[::GUEST]      preopen directory HOST, seen by the guest as GUEST\n"
    "                           (default: the same path); repeatable\n"
    "  --env NAME[=VALUE]       set NAME in the guest's environment, or pass the host's\n"
    "                           value through when no VALUE is given; repeatable\n"
    "\n"
    "Engine:\n"
    "  --tier fast|opt          compile with the fast tier (tcc, default) or the optimizing\n"
    "                           tier (the system C compiler at -O2)\n"
    "  --cache-dir DIR          compiled-code cache directory (default $WASITLS_CACHE_DIR,\n"
    "                           else $XDG_CACHE_HOME/wasitls, else ~/.cache/wasitls); when\n"
    "                           it cannot be written, run warns and runs without a cache\n"
    "\n"
    "TLS (with -S tls):\n"
    "  --tls-ca FILE            also trust the PEM certificates in FILE; repeatable\n"
    "  --tls-client-cert FILE   offer this client certificate to servers that ask for one:\n"
    "                           PEM, the certificate first, then its intermediates\n"
    "  --tls-client-key FILE    its private key (PEM, not encrypted); default: in the\n"
    "                           --tls-client-cert file\n"
    "  --tls-backend NAME       openssl (default) | gnutls (any case)\n"
    "  --tls-handshake-timeout T\n"
    "                           give up a handshake after T: a number with unit ms, s, m\n"
    "                           or h, seconds without one (e.g. 500ms, 10s, 1h; default\n"
    "                           10s; at most 24h)\n"
    "  --tls-no-resume          full handshakes only (by default a connection offers the\n"
    "                           session an earlier one to the same server name saved)\n"
    "\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: the guest's; 2 for a usage error; 1 when wasitls fails or the guest traps\n"
    "(the reason is printed as `error: ...` on stderr).\n"
    "\n"
    "Options go before COMPONENT.wasm: everything after it is passed to the guest.\n";

static const char *const s_values[] = {"tls", "inherit-network", "allow-ip-name-lookup"};

/* Every option, for the unknown-option hint. */
static const char *const long_opts[] = {"--dir",
                                        "--env",
                                        "--tier",
                                        "--cache-dir",
                                        "--tls-ca",
                                        "--tls-client-cert",
                                        "--tls-client-key",
                                        "--tls-backend",
                                        "--tls-handshake-timeout",
                                        "--tls-no-resume",
                                        "--help"};

/* Spellings of grants that users reach for, and the option that does it. */
static const struct {
    const char *wrong, *right;
} grant_hints[] = {
    {"--S", "-S"},
    {"-s", "-S"},
    {"--net", "-S inherit-network"},
    {"--network", "-S inherit-network"},
    {"--inherit-network", "-S inherit-network"},
    {"--allow-network", "-S inherit-network"},
    {"--tls", "-S tls"},
    {"--allow-ip-name-lookup", "-S allow-ip-name-lookup"},
    {"--ip-name-lookup", "-S allow-ip-name-lookup"},
    {"--lookup", "-S allow-ip-name-lookup"},
    {"--dns", "-S allow-ip-name-lookup"},
};

static const char *grant_hint(const char *name)
{
    for (size_t i = 0; i < sizeof grant_hints / sizeof grant_hints[0]; i++)
        if (strcmp(name, grant_hints[i].wrong) == 0) return grant_hints[i].right;
    return NULL;
}

struct run_opts {
    bool tls, net, lookup;
    const char **dirs;
    size_t ndirs;
    const char **envs;
    size_t nenvs;
    int tier;
    const char **cas;
    size_t ncas;
    const char *backend;
    char backend_buf[32];
    const char *client_cert, *client_key;
    uint32_t hs_timeout_ms;
    bool no_resume;
    const char *cache_dir;
    const char *component;
    char **guest_args;
    int nguest_args;
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see `wasitls run --help`)\n");
    return 2;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The usage error of a --tls-* file option given a directory. */
static int not_pem(const char *opt, const char *path)
{
    fprintf(stderr, "error: %s %s: is a directory, not a PEM file\n", opt, path);
    fprintf(stderr, "(see `wasitls run --help`)\n");
    return 2;
}

/* Edit distance, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return SIZE_MAX;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

static const char *closest(const char *s, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bd = 4;
    for (size_t i = 0; i < n; i++) {
        size_t dd = distance(s, cands[i]);
        if (dd < bd) {
            bd = dd;
            best = cands[i];
        }
    }
    return best;
}

static int add_s(struct run_opts *o, const char *list)
{
    char *copy = strdup(list);
    if (!copy) return 1;
    int rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "tls") == 0)
            o->tls = true;
        else if (strcmp(t, "inherit-network") == 0)
            o->net = true;
        else if (strcmp(t, "allow-ip-name-lookup") == 0)
            o->lookup = true;
        else {
            const char *m = closest(t, s_values, 3);
            fprintf(stderr, "error: unknown -S value '%s'", t);
            if (m) fprintf(stderr, " (did you mean '%s'?)", m);
            fprintf(stderr, "; valid values: tls, inherit-network, allow-ip-name-lookup\n");
            rc = 2;
            break;
        }
    }
    free(copy);
    return rc;
}

/* "10s", "500ms", "2m", "1h", or plain seconds; 1 ms to 24 h. */
static bool parse_timeout(const char *s, uint32_t *ms)
{
    /* Decimal only: strtod would also take "nan", "inf" and hexadecimal. */
    size_t digits = strspn(s, "0123456789.");
    if (digits == 0 || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end != s + digits || !(v >= 0)) return false;
    double mul = 1000;
    if (*end == 0 || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else
        return false;
    double r = v * mul;
    if (r < 1 || r > 86400000.0) return false;
    *ms = (uint32_t)r;
    return true;
}

static int push(const char ***arr, size_t *n, const char *v)
{
    const char **a = realloc(*arr, (*n + 1) * sizeof *a);
    if (!a) return 1;
    a[(*n)++] = v;
    *arr = a;
    return 0;
}

/* --tls-backend: a backend name in any case, stored lower-case; 0 or an exit status. */
static int set_backend(struct run_opts *o, const char *val)
{
#ifdef WASITLS_HAVE_TLS
    size_t n = wasitls_tls_backend_count();
    for (size_t k = 0; k < n; k++) {
        const char *b = wasitls_tls_backend_name(k);
        if (b && strcasecmp(b, val) == 0) {
            snprintf(o->backend_buf, sizeof o->backend_buf, "%s", b);
            o->backend = o->backend_buf;
            return 0;
        }
    }
    fprintf(stderr, "error: unknown --tls-backend '%s'; this wasitls has:", val);
    for (size_t k = 0; k < n; k++)
        fprintf(stderr, "%s %s", k ? "," : "", wasitls_tls_backend_name(k));
    fprintf(stderr, "\n(see `wasitls run --help`)\n");
    return 2;
#else
    (void)o;
    fprintf(stderr, "error: --tls-backend %s: this wasitls was built without wasi:tls\n", val);
    return 2;
#endif
}

/* Parses argv[1..]; returns -1 to continue, else an exit status. */
static int parse(int argc, char **argv, struct run_opts *o)
{
    int i = 1;
    for (; i < argc; i++) {
        char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        /* -S VALUE, -SVALUE, -S=VALUE */
        if (strncmp(a, "-S", 2) == 0) {
            const char *v = a[2] ? a + 2 + (a[2] == '=') : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !*v)
                return usage_error("%s needs a value: tls, inherit-network or "
                                   "allow-ip-name-lookup",
                                   "-S");
            int rc = add_s(o, v);
            if (rc) return rc;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            const char *h = grant_hint(a);
            if (!h && a[1] == 's') h = "-S"; /* -stls, -s=tls */
            fprintf(stderr, "error: unknown option '%s'", a);
            if (h) fprintf(stderr, " (did you mean '%s'?)", h);
            fprintf(stderr, "\n(see `wasitls run --help`)\n");
            return 2;
        }
        /* --name VALUE or --name=VALUE */
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, a, nl);
        name[nl] = 0;
        bool known = false;
        for (size_t k = 0; k < sizeof long_opts / sizeof long_opts[0]; k++)
            known |= strcmp(name, long_opts[k]) == 0;
        if (!known) {
            const char *m = grant_hint(name);
            if (!m) m = closest(name, long_opts, sizeof long_opts / sizeof long_opts[0]);
            fprintf(stderr, "error: unknown option '%s'", name);
            if (m) fprintf(stderr, " (did you mean '%s'?)", m);
            fprintf(stderr, "\n(see `wasitls run --help`)\n");
            return 2;
        }
        if (strcmp(name, "--tls-no-resume") == 0) { /* the one option without a value */
            if (eq) return usage_error("%s takes no value", name);
            o->no_resume = true;
            continue;
        }
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return usage_error("%s needs a value", name);
        int oom = 0;
        if (strcmp(name, "--dir") == 0) {
            oom = push(&o->dirs, &o->ndirs, val);
        } else if (strcmp(name, "--env") == 0) {
            if (!*val || *val == '=')
                return usage_error("--env needs NAME or NAME=VALUE, not '%s'", val);
            oom = push(&o->envs, &o->nenvs, val);
        } else if (strcmp(name, "--tier") == 0) {
            if (strcmp(val, "fast") == 0)
                o->tier = WASITLS_TIER_FAST;
            else if (strcmp(val, "opt") == 0)
                o->tier = WASITLS_TIER_OPT;
            else
                return usage_error("--tier is fast or opt, not '%s'", val);
        } else if (strcmp(name, "--cache-dir") == 0) {
            if (!*val) return usage_error("%s needs a directory", "--cache-dir");
            o->cache_dir = val;
        } else if (strcmp(name, "--tls-ca") == 0) {
            if (is_dir(val)) return not_pem(name, val);
            oom = push(&o->cas, &o->ncas, val);
        } else if (strcmp(name, "--tls-client-cert") == 0 ||
                   strcmp(name, "--tls-client-key") == 0) {
            const char **slot =
                strcmp(name, "--tls-client-cert") == 0 ? &o->client_cert : &o->client_key;
            if (!*val) return usage_error("%s needs a file", name);
            if (*slot) return usage_error("%s is given twice (one file each)", name);
            if (is_dir(val)) return not_pem(name, val);
            *slot = val;
        } else if (strcmp(name, "--tls-backend") == 0) {
            if (set_backend(o, val)) return 2;
        } else if (strcmp(name, "--tls-handshake-timeout") == 0) {
            if (!parse_timeout(val, &o->hs_timeout_ms))
                return usage_error("--tls-handshake-timeout takes a number with unit ms, s, m "
                                   "or h (seconds without one), from 1ms to 24h (e.g. 500ms, "
                                   "10s, 1h), not '%s'",
                                   val);
        }
        if (oom) {
            fprintf(stderr, "error: out of memory\n");
            return 1;
        }
    }
    if (o->client_key && !o->client_cert)
        return usage_error("--tls-client-key %s needs --tls-client-cert as well", o->client_key);
    if (i >= argc) return usage_error("%s", "missing COMPONENT.wasm");
    o->component = argv[i];
    o->guest_args = argv + i;
    o->nguest_args = argc - i;
    return -1;
}

static void print_error(const wasitls_error *err, int rc)
{
    char buf[WASITLS_ERROR_MSG_MAX + 64];
    if (err->code || err->msg[0])
        fprintf(stderr, "error: %s\n", wasitls_error_format(err, buf, sizeof buf));
    else
        fprintf(stderr, "error: %s\n", wasitls_strerror(rc));
}

int wasitls_cli_run(int argc, char **argv)
{
    struct run_opts o = {0};
    o.tier = WASITLS_TIER_FAST;
    int status = parse(argc, argv, &o);
    uint8_t *bytes = NULL;
    size_t len = 0;
    char **env = NULL;
    size_t nenv = 0;
    wasitls_wasi_preopen *pre = NULL;
    wasitls_engine *engine = NULL;
    wasitls_component *comp = NULL;
    wasitls_linker *linker = NULL;
    wasitls_wasi *wasi = NULL;
    wasitls_cinstance *inst = NULL;
    wasitls_error err;
    wasitls_error_clear(&err);
    int rc;
    if (status >= 0) goto out;
    status = 1;

#ifndef WASITLS_HAVE_TLS
    if (o.tls) {
        fprintf(stderr, "error: -S tls: this wasitls was built without wasi:tls\n");
        goto out;
    }
#endif
    if ((o.ncas || o.backend || o.hs_timeout_ms || o.client_cert || o.client_key || o.no_resume) &&
        !o.tls)
        fprintf(stderr, "warning: --tls-* options have no effect without -S tls\n");

    /* A guest writing to a pipe whose reader left gets a stream error, not a dead host. */
    signal(SIGPIPE, SIG_IGN);
    /* Every guest socket is a host fd: allow as many as the hard limit does. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    /* --env */
    env = calloc(o.nenvs + 1, sizeof *env);
    if (!env) goto oom;
    for (size_t i = 0; i < o.nenvs; i++) {
        const char *e = o.envs[i];
        if (strchr(e, '=')) {
            env[nenv] = strdup(e);
        } else {
            const char *v = getenv(e);
            if (!v) continue; /* not set on the host: nothing to pass through */
            size_t n = strlen(e) + strlen(v) + 2;
            env[nenv] = malloc(n);
            if (env[nenv]) snprintf(env[nenv], n, "%s=%s", e, v);
        }
        if (!env[nenv++]) goto oom;
    }
    /* --dir HOST[::GUEST] */
    pre = calloc(o.ndirs + 1, sizeof *pre);
    if (!pre) goto oom;
    for (size_t i = 0; i < o.ndirs; i++) {
        char *d = strdup(o.dirs[i]);
        if (!d) goto oom;
        char *sep = strstr(d, "::");
        if (sep) {
            *sep = 0;
            pre[i].guest_path = sep + 2;
        } else {
            pre[i].guest_path = d;
        }
        pre[i].host_path = d;
        if (!*pre[i].host_path || !*pre[i].guest_path) {
            status = usage_error("--dir needs HOST or HOST::GUEST, not '%s'", o.dirs[i]);
            for (size_t j = 0; j <= i; j++)
                free((char *)pre[j].host_path);
            free(pre);
            pre = NULL;
            goto out;
        }
    }

    /* WIT strings are Unicode: say so here rather than trap the guest later. */
    for (int i = 0; i < o.nguest_args; i++)
        if (!wasitls_utf8_valid((const uint8_t *)o.guest_args[i], strlen(o.guest_args[i]))) {
            fprintf(stderr, "error: argument %d is not valid UTF-8\n", i);
            goto out;
        }
    for (size_t i = 0; i < nenv; i++)
        if (!wasitls_utf8_valid((const uint8_t *)env[i], strlen(env[i]))) {
            fprintf(stderr, "error: --env %.*s: not valid UTF-8\n", (int)strcspn(env[i], "="),
                    env[i]);
            goto out;
        }

    if (wasitls__cli_read(o.component, &bytes, &len)) goto out;

    wasitls_engine_config ecfg;
    wasitls_engine_config_default(&ecfg);
    ecfg.tier = (wasitls_tier)o.tier;
    ecfg.cache_dir = o.cache_dir;
    {
        /* the cache only saves time: say once that it is off, and go on */
        char cdir[4096];
        const char *why;
        if (wasitls__cli_cache_probe(&ecfg, cdir, sizeof cdir, &why)) {
            if (cdir[0])
                fprintf(stderr,
                        "warning: cannot write cache directory %s: %s; running without a cache\n",
                        cdir, why);
            else
                fprintf(stderr, "warning: %s; running without a cache\n", why);
            ecfg.no_cache = true;
        }
    }
    /* A component that is no command is told so before its core modules are compiled (which
     * can take seconds): parse only, look for the export, then load it for real. */
    if ((rc = wasitls_component_new(NULL, bytes, len, &comp, &err))) {
        wasitls_error_prefix(&err, "%s", o.component);
        goto fail;
    }
    /* (any version: one of another WASI release is refused below, naming its imports) */
    bool command = wasitls_component_exports_interface(comp, "wasi:cli/run");
    wasitls_component_free(comp);
    comp = NULL;
    if (!command) {
        rc = wasitls_error_set(&err, WASITLS_E_NOTFOUND,
                               "%s: the component exports no interface `wasi:cli/run`, so it "
                               "is not a WASI command (a library component is called by a host "
                               "program instead)",
                               o.component);
        goto fail;
    }
    if ((rc = wasitls_engine_new(&ecfg, &engine, &err))) goto fail;
    if ((rc = wasitls_component_new(engine, bytes, len, &comp, &err))) {
        wasitls_error_prefix(&err, "%s", o.component);
        goto fail;
    }
    if ((rc = wasitls_linker_new(&linker))) {
        wasitls_error_set(&err, rc, NULL);
        goto fail;
    }

    wasitls_wasi_config wcfg;
    wasitls_wasi_config_default(&wcfg);
    wcfg.args = (const char *const *)o.guest_args;
    wcfg.nargs = (size_t)o.nguest_args;
    wcfg.env = (const char *const *)env;
    wcfg.nenv = nenv;
    wcfg.preopens = pre;
    wcfg.npreopens = o.ndirs;
    wcfg.inherit_network = o.net;
    wcfg.allow_ip_name_lookup = o.lookup;
    if ((rc = wasitls_wasi_new(&wcfg, &wasi, &err))) goto fail;
    if ((rc = wasitls_wasi_add_to_linker(wasi, linker, &err))) goto fail;

#ifdef WASITLS_HAVE_TLS
    /* TLS hook: the policy from --tls-* goes to the TLS module; without -S tls only a hint
     * naming the flag is registered. */
    {
        wasitls_tls_config tcfg;
        wasitls_tls_config_init(&tcfg);
        tcfg.backend = o.backend;
        tcfg.ca_files = o.cas;
        tcfg.n_ca_files = o.ncas;
        tcfg.client_cert_file = o.client_cert;
        tcfg.client_key_file = o.client_key;
        tcfg.handshake_timeout_ms = o.hs_timeout_ms;
        tcfg.no_session_resumption = o.no_resume;
        if ((rc = wasitls_tls_register(linker, o.tls ? &tcfg : NULL, &err))) goto fail;
    }
#else
    if ((rc =
             wasitls_linker_hint(linker, "wasi:tls/", "this wasitls was built without wasi:tls"))) {
        wasitls_error_set(&err, rc, NULL);
        goto fail;
    }
#endif

    if ((rc = wasitls_cinstance_new(comp, linker, wasi, &inst, &err))) {
        print_error(&err, rc);
        /* `run x.wasm -S tls`: the grant went to the guest as an argument */
        for (int i = 1; i < o.nguest_args; i++)
            if (strncmp(o.guest_args[i], "-S", 2) == 0 || grant_hint(o.guest_args[i]) ||
                strcmp(o.guest_args[i], "--dir") == 0) {
                fprintf(stderr,
                        "hint: '%s' comes after %s, so it was passed to the guest; wasitls's "
                        "options go before COMPONENT.wasm\n",
                        o.guest_args[i], o.component);
                break;
            }
        goto out;
    }
    rc = wasitls_wasi_run(wasi, inst, &err);
    if (rc < 0) goto fail;
    status = rc > 255 ? 255 : rc;
    goto out;

oom:
    rc = WASITLS_E_NOMEM;
    wasitls_error_set(&err, rc, NULL);
fail:
    print_error(&err, rc);
    status = 1;
out:
    wasitls_cinstance_free(inst);
    wasitls_linker_free(linker);
#ifdef WASITLS_HAVE_TLS
    wasitls_tls_unregister_all();
#endif
    wasitls_wasi_free(wasi);
    wasitls_component_free(comp);
    wasitls_engine_free(engine);
    free(bytes);
    for (size_t i = 0; i < nenv; i++)
        free(env[i]);
    free(env);
    if (pre)
        for (size_t i = 0; i < o.ndirs; i++)
            free((char *)pre[i].host_path);
    free(pre);
    free(o.dirs);
    free(o.envs);
    free(o.cas);
    return status;
}
