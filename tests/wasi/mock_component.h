/* The test stand-in for the component layer (see mock_component.c). */
#ifndef WASITLS_TESTS_MOCK_COMPONENT_H
#define WASITLS_TESTS_MOCK_COMPONENT_H

#include "wasitls/component.h"

/* Calls the host function defined as iface#name ("wasi:io/streams@0.2.12"). Result values
 * live until mock_reset(). */
int mock_call(const char *iface, const char *name, const wasitls_cval *args, size_t nargs,
              wasitls_cval *result);
/* Runs the destructor of a resource type as a guest drop would; msg gets the refusal. */
int mock_drop(const char *iface, const char *resource, void *rep, char *msg, size_t msglen);
bool mock_defined(const char *iface, const char *name);
size_t mock_count(void);
const char *mock_trap_message(void);
void mock_reset(void);
void mock_free_all(void);
extern size_t mock_wit_bytes;

#endif
