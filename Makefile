# tektite: one non-recursive Makefile. Outputs under $(BUILD); `make help` lists the verbs.
# Modules are found by wildcard: a new lib/x.c or controller/x.c needs no edit here, and a new
# tests/unit/test_x.c becomes build/tests/test_x automatically.

PKGS     := libuv libcurl jansson yaml-0.1 libwebsockets openssl
BUILD    ?= build
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

ifneq ($(MAKECMDGOALS),clean)
ifneq ($(shell pkg-config --exists $(PKGS) cmocka 2>/dev/null && echo ok),ok)
$(error missing build libraries ($(PKGS) cmocka): run hack/install-deps.sh, which installs libuv1-dev libcurl4-openssl-dev libjansson-dev libyaml-dev libwebsockets-dev libssl-dev libcmocka-dev)
endif
endif

CSTD     := -std=gnu11
WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wold-style-definition -Wpointer-arith -Wcast-qual \
            -Wwrite-strings -Wformat=2 -Wundef -Wvla -Wimplicit-fallthrough
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT      ?= -O2 -g
CFLAGS   += $(OPT) $(CSTD) $(WARN) -I. $(shell pkg-config --cflags $(PKGS)) -MMD -MP -D_GNU_SOURCE \
            -DTEKTITE_VERSION='"$(VERSION)"'
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lm
ifeq ($(SANITIZE),1)
CFLAGS   += $(SAN)
LDFLAGS  += $(SAN)
else
CFLAGS   += $(HARDEN)
LDFLAGS  += -pie -Wl,-z,relro,-z,now
endif

LIB_SRCS   := $(wildcard lib/*.c)
CTRL_SRCS  := $(filter-out controller/main.c,$(wildcard controller/*.c))
EP_SRCS    := $(wildcard controller/entrypoint/*.c)
TEST_SRCS  := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)

LIB_A      := $(BUILD)/libtektite.a
CTRL_A     := $(BUILD)/libcontroller.a
CONTROLLER := $(BUILD)/tektite-controller
ENTRYPOINT := $(BUILD)/tektite-entrypoint
TESTS      := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all unit check test e2e lint format bench clean help fuzz cluster-up cluster-down demo
.PHONY: image deploy bench-compare

all: $(CONTROLLER) $(ENTRYPOINT)

help:
	@echo "all      build the controller and the entrypoint ($(BUILD)/)"
	@echo "unit     build and run the unit tests"
	@echo "check    the unit tests under ASan+UBSan (build/asan/)"
	@echo "test     what CI runs: check, then the e2e tests on the local cluster"
	@echo "e2e      the e2e tests alone (brings the cluster up unless KUBECONFIG is set)"
	@echo "lint     clang-format check, headers alone, cppcheck, banned functions"
	@echo "format   rewrite C sources with clang-format"
	@echo "bench    benchmarks (figures, never asserted)"
	@echo "bench-compare  the same workloads on Tekton Pipelines and tektite, with ratios (docs/benchmarks.md)"
	@echo "cluster-up / cluster-down   the local Kubernetes cluster (hack/)"
	@echo "image    the controller and entrypoint images, as OCI layouts in $(BUILD)/images/"
	@echo "deploy   push the images and install tektite on the cluster (hack/deploy.sh)"

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(if $(V),,@echo "  CC      $<";)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB_A): $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
	@mkdir -p $(@D)
	$(if $(V),,@echo "  AR      $@";)rm -f $@ && $(AR) rcs $@ $^

$(CTRL_A): $(patsubst %.c,$(BUILD)/%.o,$(CTRL_SRCS))
	@mkdir -p $(@D)
	$(if $(V),,@echo "  AR      $@";)rm -f $@ && $(AR) rcs $@ $^

$(CONTROLLER): $(BUILD)/controller/main.o $(CTRL_A) $(LIB_A)
	$(if $(V),,@echo "  LD      $@";)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The entrypoint runs inside arbitrary step images, so the release build is static and
# links nothing but libc; the sanitizer build stays dynamic (ASan cannot be static).
ifeq ($(SANITIZE),1)
EP_LDFLAGS := $(LDFLAGS)
else
EP_LDFLAGS := -static
endif
$(ENTRYPOINT): $(patsubst %.c,$(BUILD)/%.o,$(EP_SRCS))
	$(if $(V),,@echo "  LD      $@";)$(CC) $(EP_LDFLAGS) -o $@ $^

# The entrypoint's modules (all but its main.c) as a library, so unit tests can link them.
EP_A := $(BUILD)/libentrypoint.a
$(EP_A): $(patsubst %.c,$(BUILD)/%.o,$(filter-out controller/entrypoint/main.c,$(EP_SRCS)))
	$(if $(V),,@echo "  AR      $@";)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(CTRL_A) $(LIB_A) $(EP_A)
	@mkdir -p $(@D)
	$(if $(V),,@echo "  LD      $@";)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

unit: $(TESTS) $(ENTRYPOINT)
	@BUILD=$(BUILD) tests/unit/run.sh $(TESTS)

check:
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 OPT="-O1 -g" unit

# tests/e2e/client_test.sh's driver: lib/ against the real API server.
E2E_KUBECLIENT := $(BUILD)/e2e/kubeclient
$(E2E_KUBECLIENT): $(BUILD)/tests/e2e/kubeclient.o $(LIB_A)
	@mkdir -p $(@D)
	$(if $(V),,@echo "  LD      $@";)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

e2e: all $(E2E_KUBECLIENT)
	tests/e2e/run.sh

test: check
	@$(MAKE) --no-print-directory e2e

cluster-up:
	hack/cluster-up.sh

cluster-down:
	hack/cluster-down.sh

demo:
	hack/demo.sh

image: all
	IMAGES_OUT=$(abspath $(BUILD))/images hack/image-tektite.sh build

deploy: all
	hack/deploy.sh

bench: all
	hack/bench.sh

bench-compare: all
	hack/bench-compare.sh all

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
BANNED  := sprintf vsprintf strcpy strcat strncpy strncat strtok gets atoi atol gmtime localtime system

lint:
	clang-format --dry-run -Werror $(C_FILES)
	@for h in $(filter %.h,$(C_FILES)); do \
	  echo "#include \"$$h\"" | $(CC) $(CSTD) $(WARN) -I. $(shell pkg-config --cflags $(PKGS)) -fsyntax-only -x c - || exit 1; done
	cppcheck --quiet --enable=warning,portability --error-exitcode=1 --inline-suppr -I. \
	  --suppress=missingIncludeSystem $(filter %.c,$(C_FILES))
	@! grep -nE '\b($(shell echo $(BANNED) | tr ' ' '|'))\(' $(C_FILES) || \
	  { echo "lint: banned function used (see style.md §12)"; exit 1; }

format:
	clang-format -i $(C_FILES)

# libFuzzer targets: build/fuzz/fuzz_x; run one as build/fuzz/fuzz_x -max_total_time=600 tests/fuzz/corpus/x/
fuzz: $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
build/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(CTRL_SRCS)
	@mkdir -p $(@D)
	clang $(CSTD) -D_GNU_SOURCE -g -O1 -I. $(shell pkg-config --cflags $(PKGS)) -fsanitize=fuzzer,address,undefined \
	  -o $@ $< $(LIB_SRCS) $(CTRL_SRCS) $(LDLIBS)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
