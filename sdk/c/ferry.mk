# ferry.mk: builds a Ferry plugin written in C into a component. A project's Makefile sets
#
#   FERRY_WORLD := transform-plugin      # validator-plugin, transform-plugin or model-plugin, or
#                                        # prepared-transform-plugin and the like (contract
#                                        # 0.1.1: prepared once, every call from a snapshot)
#   FERRY_WIT   := wit                   # the plugin contract (Ferry's wit/ folder)
#   SOURCES     := plugin.c
#   COMPONENT   := my-plugin.wasm
#   include path/to/sdk/c/ferry.mk
#
# and `make` runs three tools:
#   1. `wit-bindgen c` (cargo install wit-bindgen-cli@0.57.1) writes the world's bindings;
#   2. clang for wasm32-wasi with wasi-libc (Debian: clang-19 lld-19
#      libclang-rt-19-dev-wasm32 wasi-libc) compiles the plugin, this SDK and the bindings
#      into a core module;
#   3. `jco new --wasi-reactor` (npm @bytecodealliance/jco 1.35.0, the version the JavaScript
#      SDK pins, which ships the WASI preview1 reactor adapter; fetched by npx on first use)
#      turns the core module into a component.
# Each can be overridden: make FERRY_CC=clang WIT_BINDGEN=~/bin/wit-bindgen JCO=jco.

ifndef FERRY_SDK
FERRY_SDK   := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
endif
FERRY_CC    ?= clang-19
WIT_BINDGEN ?= wit-bindgen
JCO         ?= npx --yes @bytecodealliance/jco@1.35.0
FERRY_BUILD ?= build
FERRY_CFLAGS ?= -O2 -Wall -Wextra -Werror=implicit-function-declaration

ferry_world_kind := $(patsubst %-plugin,%,$(FERRY_WORLD))
ferry_kind  := $(patsubst prepared-%,%,$(ferry_world_kind))
ferry_defs  := $(if $(filter prepared-%,$(FERRY_WORLD)),-DFERRY_PREPARED)
ferry_stem  := $(subst -,_,$(FERRY_WORLD))
ferry_gen   := $(FERRY_BUILD)/gen-$(ferry_world_kind)
ferry_core  := $(FERRY_BUILD)/$(basename $(notdir $(COMPONENT))).core.wasm
ferry_glue  := $(FERRY_SDK)/src/$(ferry_kind).c

ifeq ($(wildcard $(ferry_glue)),)
$(error FERRY_WORLD is "$(FERRY_WORLD)"; the C SDK builds validator-plugin, transform-plugin or model-plugin, each also as prepared-...)
endif

$(COMPONENT): $(ferry_core)
	$(JCO) new $< --wasi-reactor -o $@

$(ferry_core): $(SOURCES) $(ferry_gen)/$(ferry_stem).c $(wildcard $(FERRY_SDK)/*.h $(FERRY_SDK)/src/*)
	$(FERRY_CC) --target=wasm32-wasi -mexec-model=reactor $(FERRY_CFLAGS) $(ferry_defs) \
	    -I$(FERRY_SDK) -I$(ferry_gen) $(SOURCES) \
	    $(FERRY_SDK)/src/core.c $(FERRY_SDK)/src/json.c $(ferry_glue) \
	    $(ferry_gen)/$(ferry_stem).c $(ferry_gen)/$(ferry_stem)_component_type.o -lm -o $@

$(ferry_gen)/$(ferry_stem).c: $(wildcard $(FERRY_WIT)/*.wit)
	@mkdir -p $(ferry_gen)
	$(WIT_BINDGEN) c $(FERRY_WIT) --world $(FERRY_WORLD) --out-dir $(ferry_gen)

.PHONY: clean
clean:
	rm -rf $(FERRY_BUILD) $(COMPONENT)
