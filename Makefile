# Thin wrapper over CMake + CTest. `make check` and `make demo` install what is missing first.
BUILD       ?= build
BUILD_TYPE  ?= RelWithDebInfo
CMAKE_FLAGS ?=
JOBS        ?= $(shell nproc)
CTEST_FLAGS ?=

.PHONY: all setup configure build check demo asan bench clean format

all: build

setup:
	@scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

check: setup
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

demo: setup
	@$(MAKE) --no-print-directory build
	scripts/demo.sh $(BUILD)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: setup
	@$(MAKE) --no-print-directory check BUILD=build-asan BUILD_TYPE=Debug \
		CMAKE_FLAGS="-DWASITLS_SANITIZE=ON $(CMAKE_FLAGS)"

bench: setup
	@$(MAKE) --no-print-directory build
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan

format:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v '^tests/data/')
