# Guest toolchain: C sources -> wasm32-wasi core module (Debian clang + wasi-libc) -> component
# (jco's wasm-tools through scripts/build-component.mjs).
#
#   wasitls_add_guest(NAME <name> SOURCES <a.c>...
#                     [WIT <dir-or-file>] [WORLD <world>]
#                     [KIND command|reactor]       # default command
#                     [OUTPUT <path.wasm>]         # default ${WASITLS_GUEST_DIR}/<name>.wasm
#                     [LIBS <guest-library>...]    # e.g. wasitls_guest (the SDK)
#                     [INCLUDES <dir>...] [CFLAGS <flag>...] [LDFLAGS <flag>...])
#
# makes a target `guest-<name>` (built by `all`) and sets, in the caller's scope,
# GUEST_<name>_WASM to the component's path so tests can say
#   add_test(NAME wasi.args COMMAND wasitls run ${GUEST_args_WASM} a b)
#
# Worlds:
# - No WIT: a plain preview1 C program (main, stdio, files). The preview1 adapter makes it a
#   wasi:cli/command component (KIND reactor: the reactor adapter, exports as the module has them).
# - WIT given: the module's own imports/exports are typed by that world (embedded first), and the
#   adapter is applied afterwards for wasi-libc's preview1 calls. The WIT may import the WASI
#   0.2.12 packages and wasi:tls@0.2.0-draft without a deps/ folder: the bundled copies in jco
#   are added (see scripts/build-component.mjs). Keep a test's world next to the test.
# - LIBS wasitls_guest with no WIT: the SDK's world guest/wit (world `wasitls-guest`) is used.
#   A custom world that also uses the SDK should `include wasitls:guest/sdk;` (see guest/wit).
#
# KIND reactor links with -mexec-model=reactor (no main; export functions with
# __attribute__((export_name("..."))) matching the world's canonical ABI names; the module must
# export cabi_realloc when the world passes lists or strings in). guest/tests/reactor.c and
# guest/tests/resource-reactor.c (an exported resource: constructor, methods, destructor, a string
# result with post-return) show the names.
#
#   wasitls_add_guest_library(NAME <name> SOURCES <a.c>... [INCLUDES <dir>...] [CFLAGS ...])
#
# compiles wasm32 objects and archives them into ${WASITLS_GUEST_DIR}/lib<name>.a.
#
# WASITLS_GUESTS_AVAILABLE is OFF (with a warning) when clang's wasm32-wasi target, wasi-libc,
# node or node_modules is missing; both functions then do nothing, and callers should register
# their guest-based tests only `if(WASITLS_GUESTS_AVAILABLE)`. `scripts/setup.sh` installs all.

set(WASITLS_GUEST_DIR "${PROJECT_BINARY_DIR}/guests" CACHE PATH "Where guest components go")
set(WASITLS_GUEST_CFLAGS "-O2;-g0" CACHE STRING "Flags for compiling guests (wasm32-wasi)")

set(WASITLS_GUESTS_AVAILABLE OFF)
if(WASITLS_GUESTS)
  find_program(WASITLS_GUEST_CC NAMES clang-14 clang)
  find_program(WASITLS_GUEST_AR NAMES llvm-ar-14 llvm-ar)
  find_program(WASITLS_NODE NAMES node nodejs)
  set(_wasitls_missing "")
  if(NOT WASITLS_GUEST_CC)
    list(APPEND _wasitls_missing "clang")
  endif()
  if(NOT WASITLS_GUEST_AR)
    list(APPEND _wasitls_missing "llvm-ar (package llvm)")
  endif()
  if(NOT WASITLS_NODE)
    list(APPEND _wasitls_missing "node")
  endif()
  if(NOT EXISTS "${PROJECT_SOURCE_DIR}/node_modules/@bytecodealliance/jco-transpile/dist/wasm-tools.js")
    list(APPEND _wasitls_missing "node_modules (npm ci)")
  endif()
  if(NOT EXISTS "/usr/lib/wasm32-wasi/libc.a" AND NOT DEFINED WASITLS_WASI_SYSROOT)
    list(APPEND _wasitls_missing "wasi-libc")
  endif()
  if(_wasitls_missing)
    message(WARNING "guest components disabled, missing: ${_wasitls_missing} (run scripts/setup.sh)")
  else()
    set(WASITLS_GUESTS_AVAILABLE ON)
  endif()
endif()

set(WASITLS_BUILD_COMPONENT "${PROJECT_SOURCE_DIR}/scripts/build-component.mjs")
set(WASITLS_GUEST_SDK_WIT "${PROJECT_SOURCE_DIR}/guest/wit")

# Compiles SOURCES to objects under OBJDIR with header dependency tracking; returns the list.
function(_wasitls_guest_objects out_var objdir)
  cmake_parse_arguments(G "" "" "SOURCES;INCLUDES;CFLAGS" ${ARGN})
  file(MAKE_DIRECTORY "${objdir}")
  set(objs "")
  set(flags --target=wasm32-wasi ${WASITLS_GUEST_CFLAGS} -Wall -Wextra -Wno-unused-parameter)
  if(WASITLS_WASI_SYSROOT)
    list(APPEND flags --sysroot=${WASITLS_WASI_SYSROOT})
  endif()
  foreach(inc ${G_INCLUDES} "${PROJECT_SOURCE_DIR}/guest/include")
    list(APPEND flags "-I${inc}")
  endforeach()
  list(APPEND flags ${G_CFLAGS})
  foreach(src ${G_SOURCES})
    get_filename_component(abs "${src}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${abs}")
    string(REGEX REPLACE "[^A-Za-z0-9_.-]" "_" stem "${rel}")
    set(obj "${objdir}/${stem}.o")
    add_custom_command(
      OUTPUT "${obj}"
      COMMAND "${WASITLS_GUEST_CC}" ${flags} -MD -MF "${obj}.d" -c "${abs}" -o "${obj}"
      DEPENDS "${abs}"
      DEPFILE "${obj}.d"
      COMMENT "wasm32 cc ${rel}"
      VERBATIM)
    list(APPEND objs "${obj}")
  endforeach()
  set(${out_var} "${objs}" PARENT_SCOPE)
endfunction()

function(wasitls_add_guest_library)
  if(NOT WASITLS_GUESTS_AVAILABLE)
    return()
  endif()
  cmake_parse_arguments(L "" "NAME" "SOURCES;INCLUDES;CFLAGS" ${ARGN})
  if(NOT L_NAME OR NOT L_SOURCES)
    message(FATAL_ERROR "wasitls_add_guest_library needs NAME and SOURCES")
  endif()
  set(objdir "${CMAKE_CURRENT_BINARY_DIR}/guest-lib-${L_NAME}")
  _wasitls_guest_objects(objs "${objdir}" SOURCES ${L_SOURCES} INCLUDES ${L_INCLUDES}
                         CFLAGS ${L_CFLAGS})
  set(lib "${WASITLS_GUEST_DIR}/lib${L_NAME}.a")
  add_custom_command(
    OUTPUT "${lib}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${WASITLS_GUEST_DIR}"
    COMMAND ${CMAKE_COMMAND} -E rm -f "${lib}"
    COMMAND "${WASITLS_GUEST_AR}" rcs "${lib}" ${objs}
    DEPENDS ${objs}
    COMMENT "wasm32 ar lib${L_NAME}.a"
    VERBATIM)
  add_custom_target(guest-lib-${L_NAME} ALL DEPENDS "${lib}")
endfunction()

function(wasitls_add_guest)
  if(NOT WASITLS_GUESTS_AVAILABLE)
    return()
  endif()
  cmake_parse_arguments(G "" "NAME;WIT;WORLD;KIND;OUTPUT"
                        "SOURCES;LIBS;INCLUDES;CFLAGS;LDFLAGS" ${ARGN})
  if(NOT G_NAME OR NOT G_SOURCES)
    message(FATAL_ERROR "wasitls_add_guest needs NAME and SOURCES")
  endif()
  if(NOT G_KIND)
    set(G_KIND command)
  endif()
  if(NOT G_KIND MATCHES "^(command|reactor)$")
    message(FATAL_ERROR "wasitls_add_guest(${G_NAME}): KIND is command or reactor")
  endif()
  if(NOT G_OUTPUT)
    set(G_OUTPUT "${WASITLS_GUEST_DIR}/${G_NAME}.wasm")
  endif()
  get_filename_component(G_OUTPUT "${G_OUTPUT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  get_filename_component(outdir "${G_OUTPUT}" DIRECTORY)

  set(libs "")
  set(libdeps "")
  foreach(l ${G_LIBS})
    # The archive's path is fixed by its name, so a guest may be declared before its library
    # (src/ is configured before guest/); the target dependency orders the build.
    list(APPEND libs "${WASITLS_GUEST_DIR}/lib${l}.a")
    list(APPEND libdeps guest-lib-${l})
    if(l STREQUAL "wasitls_guest" AND NOT G_WIT)
      set(G_WIT "${WASITLS_GUEST_SDK_WIT}")
      set(G_WORLD "wasitls-guest")
    endif()
  endforeach()

  # Every guest gets a fallback cabi_realloc; commands get our _start (guest/src/start.c says
  # why) instead of wasi-libc's crt1-command.o.
  set(rt "${PROJECT_SOURCE_DIR}/guest/src/realloc.c")
  if(G_KIND STREQUAL "command")
    list(APPEND rt "${PROJECT_SOURCE_DIR}/guest/src/start.c")
  endif()
  set(objdir "${CMAKE_CURRENT_BINARY_DIR}/guest-${G_NAME}")
  _wasitls_guest_objects(objs "${objdir}" SOURCES ${G_SOURCES} ${rt}
                         INCLUDES ${G_INCLUDES} CFLAGS ${G_CFLAGS})

  set(core "${objdir}/${G_NAME}.core.wasm")
  set(ldflags --target=wasm32-wasi -Wl,--strip-debug)
  if(WASITLS_WASI_SYSROOT)
    list(APPEND ldflags --sysroot=${WASITLS_WASI_SYSROOT})
  endif()
  if(G_KIND STREQUAL "reactor")
    list(APPEND ldflags -mexec-model=reactor)
  else()
    list(APPEND ldflags -nostartfiles)
  endif()
  add_custom_command(
    OUTPUT "${core}"
    COMMAND "${WASITLS_GUEST_CC}" ${ldflags} ${objs} ${libs} ${G_LDFLAGS} -o "${core}"
    DEPENDS ${objs} ${libs}
    COMMENT "wasm32 ld ${G_NAME}.core.wasm"
    VERBATIM)

  set(args --module "${core}" --out "${G_OUTPUT}" --kind ${G_KIND})
  set(witdeps "")
  if(G_WIT)
    get_filename_component(wit "${G_WIT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND args --wit "${wit}")
    if(IS_DIRECTORY "${wit}")
      file(GLOB_RECURSE witdeps CONFIGURE_DEPENDS "${wit}/*.wit")
    else()
      set(witdeps "${wit}")
    endif()
    if(G_WORLD)
      list(APPEND args --world "${G_WORLD}")
    endif()
  endif()
  add_custom_command(
    OUTPUT "${G_OUTPUT}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${outdir}"
    COMMAND "${WASITLS_NODE}" "${WASITLS_BUILD_COMPONENT}" ${args}
    DEPENDS "${core}" ${witdeps} "${WASITLS_BUILD_COMPONENT}"
    COMMENT "component ${G_NAME}.wasm"
    VERBATIM)
  add_custom_target(guest-${G_NAME} ALL DEPENDS "${G_OUTPUT}")
  if(libdeps)
    add_dependencies(guest-${G_NAME} ${libdeps})
  endif()
  set(GUEST_${G_NAME}_WASM "${G_OUTPUT}" PARENT_SCOPE)
endfunction()
