# cmake -DIN=types.wit -DOUT=wit.c -P embed_wit.cmake
# Embeds jco's wasi:tls WIT (interface `types`) behind its package line as a C byte array, so
# the runtime never reads node_modules. Runs at every build; rewrites OUT only on change.
if(EXISTS ${IN})
  file(READ ${IN} body HEX)
  string(HEX "package wasi:tls@0.2.0-draft;\n" head)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${head}${body}")
  string(CONCAT text "/* Generated from ${IN}; do not edit. */\n#include <stddef.h>\n"
    "const char wasitls__tls_wit[] = {${bytes}0x00};\n"
    "const size_t wasitls__tls_wit_len = sizeof wasitls__tls_wit - 1;\n")
else()
  message(WARNING "${IN} not found (run scripts/setup.sh): wasitls_tls_register will fail")
  string(CONCAT text "/* ${IN} was missing at build time. */\n#include <stddef.h>\n"
    "const char wasitls__tls_wit[] = \"\";\nconst size_t wasitls__tls_wit_len = 0;\n")
endif()
if(EXISTS ${OUT})
  file(READ ${OUT} old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE ${OUT} "${text}")
