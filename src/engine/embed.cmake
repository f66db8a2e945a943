# Writes IN as a C string constant NAME into OUT (used for the generated-code prelude).
file(READ ${IN} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUT} "const char ${NAME}[] = {${bytes}0};\n")
