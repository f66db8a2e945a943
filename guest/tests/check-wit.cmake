# Reads a component's world with jco's wasm-tools and checks that it contains EXPECT (and,
# when given, not EXPECT_NOT).
execute_process(COMMAND ${NODE} ${ROOT}/node_modules/@bytecodealliance/jco/dist/jco.js wit ${WASM}
                OUTPUT_VARIABLE wit ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "jco wit ${WASM} failed (${rc}): ${err}")
endif()
string(FIND "${wit}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${WASM}: world lacks '${EXPECT}':\n${wit}")
endif()
if(DEFINED EXPECT_NOT)
  string(FIND "${wit}" "${EXPECT_NOT}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${WASM}: world has '${EXPECT_NOT}':\n${wit}")
  endif()
endif()
