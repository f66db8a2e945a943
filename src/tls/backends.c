/* The list of backends compiled in, in order of preference (the first one is the default).
 * A new backend adds its table here and its folder to src/tls/CMakeLists.txt. */
#include "backend.h"

#include <string.h>

extern const wasitls__tls_backend wasitls__tls_openssl;
#ifdef WASITLS_HAVE_GNUTLS
extern const wasitls__tls_backend wasitls__tls_gnutls;
#endif

static const wasitls__tls_backend *const backends[] = {
    &wasitls__tls_openssl,
#ifdef WASITLS_HAVE_GNUTLS
    &wasitls__tls_gnutls,
#endif
};

size_t wasitls__tls_backend_count(void)
{
    return sizeof backends / sizeof backends[0];
}

const wasitls__tls_backend *wasitls__tls_backend_at(size_t i)
{
    return i < wasitls__tls_backend_count() ? backends[i] : NULL;
}

const wasitls__tls_backend *wasitls__tls_backend_find(const char *name)
{
    if (!name || !*name) return backends[0];
    for (size_t i = 0; i < wasitls__tls_backend_count(); i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}

size_t wasitls_tls_backend_count(void)
{
    return wasitls__tls_backend_count();
}

const char *wasitls_tls_backend_name(size_t i)
{
    const wasitls__tls_backend *b = wasitls__tls_backend_at(i);
    return b ? b->name : NULL;
}

bool wasitls_tls_backend_available(const char *name)
{
    const wasitls__tls_backend *b = wasitls__tls_backend_find(name);
    return b && b->is_available();
}
