# Makefile - eddy: the reference library, its unit tests and the
# conformance runner, built per variant into build/<variant>/.
#
# Variants: gcc and clang (release flags), asan (clang, ASan+UBSan) and tsan
# (clang, TSan). Sources are found by wildcard, so new files need no edit.
# conformance/ is compiled with -Ispec/include -Iconformance only: it cannot
# see impl/, and it links whatever library IMPL names.

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:
# Keep test objects: they are intermediate files of the pattern rules.
.SECONDARY:

VERSION    := 0.1.0
SOVERSION  := 0
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=
BUILD      ?= build
JOBS       ?= 2
ONLY       ?=
# Extra runner arguments, e.g. CONFORMANCE_FLAGS='--tap --report build/report'
CONFORMANCE_FLAGS ?=
# Libraries a foreign IMPL needs besides libc, pthread and libm.
IMPL_LIBS  ?=

STD    := -std=c11 -D_POSIX_C_SOURCE=200809L
WARN   := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CFLAGS_BASE := $(STD) $(WARN) -pthread
LDLIBS := -pthread -lm
IMPL_INC := -Ispec/include -Iimpl
CONF_INC := -Ispec/include -Iconformance

comma := ,
empty :=
space := $(empty) $(empty)

IMPL_SRCS    := $(sort $(wildcard impl/*.c))
TEST_SRCS    := $(sort $(wildcard impl/tests/test_*.c))
SUPPORT_SRCS := $(filter-out $(TEST_SRCS),$(sort $(wildcard impl/tests/*.c)))
CONF_SRCS    := $(sort $(wildcard conformance/*.c))
HEADERS      := spec/include/eddy.h $(sort $(wildcard spec/include/eddy/*.h))

# Section files register eddy_section_<sym> with EDDY_SECTION(sym, ...);
# run.c gets the list of those present, read from the files, so a missing
# section never breaks the link. A file without EDDY_SECTION contributes
# its sNN prefix, which then fails the link, loudly.
SECTION_FILES := $(sort $(wildcard conformance/s[0-9][0-9]_*.c))
SECTION_SED := s/^[[:space:]]*EDDY_SECTION([[:space:]]*\([A-Za-z0-9_]*\).*/\1/p
section_sym = $(firstword $(shell sed -n '$(SECTION_SED)' $(1)) $(firstword $(subst _, ,$(notdir $(1)))))
SECTION_SYMS := $(sort $(foreach f,$(SECTION_FILES),$(call section_sym,$(f))))
SECTIONS_DEF := -D'EDDY_SECTIONS=$(foreach s,$(SECTION_SYMS),X($(s)))'

# Fault injection wraps a symbol with -Wl,--wrap=sym when a test source
# defines __wrap_sym: support files (impl/tests/*.c other than test_*.c)
# wrap for every test, a test_*.c only for itself.
wraps_in = $(addprefix -Wl$(comma)--wrap=,$(sort $(patsubst __wrap_%,%,$(shell grep -ho '__wrap_[A-Za-z0-9_]*' $(1) /dev/null))))
SUPPORT_WRAPS := $(if $(SUPPORT_SRCS),$(call wraps_in,$(SUPPORT_SRCS)))

gcc_CC      := gcc
gcc_FLAGS   := -O2 -g
clang_CC    := clang
clang_FLAGS := -O2 -g
asan_CC     := clang
asan_FLAGS  := -O1 -g -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=all
tsan_CC     := clang
tsan_FLAGS  := -O1 -g -fsanitize=thread
VARIANTS    := gcc clang asan tsan
SHARED_VARIANTS := gcc clang

is_shared = $(filter %.so %.so.$(SOVERSION),$(1))

# $(1) = variant. Every rule a variant needs, with its own objects.
define VARIANT_RULES
$(1)_DIR   := $(BUILD)/$(1)
$(1)_OBJS  := $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(IMPL_SRCS))
$(1)_PICS  := $(patsubst %.c,$(BUILD)/$(1)/pic/%.o,$(IMPL_SRCS))
$(1)_SUPP  := $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(SUPPORT_SRCS))
$(1)_TESTS := $(patsubst impl/tests/%.c,$(BUILD)/$(1)/tests/%,$(TEST_SRCS))
$(1)_CONF  := $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(CONF_SRCS))
$(1)_IMPL  := $(if $(IMPL),$(IMPL),$(BUILD)/$(1)/libeddy.a)
ALL_DEPS   += $$($(1)_OBJS:.o=.d) $$($(1)_PICS:.o=.d) $$($(1)_SUPP:.o=.d) \
              $$($(1)_CONF:.o=.d) $$(patsubst %,$(BUILD)/$(1)/obj/impl/tests/%.d,$$(notdir $$($(1)_TESTS)))

$(BUILD)/$(1)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$$($(1)_CC) $$(CFLAGS_BASE) $$($(1)_FLAGS) $$(IMPL_INC) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/obj/conformance/%.o: conformance/%.c
	@mkdir -p $$(@D)
	$$($(1)_CC) $$(CFLAGS_BASE) $$($(1)_FLAGS) $$(CONF_INC) $$(RUN_DEFS) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/obj/conformance/run.o: RUN_DEFS = $(SECTIONS_DEF)
$(BUILD)/$(1)/obj/conformance/run.o: $(BUILD)/$(1)/sections.txt

$(BUILD)/$(1)/pic/%.o: %.c
	@mkdir -p $$(@D)
	$$($(1)_CC) $$(CFLAGS_BASE) $$($(1)_FLAGS) -fPIC $$(IMPL_INC) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/libeddy.a: $$($(1)_OBJS)
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^

$(BUILD)/$(1)/libeddy.so: $$($(1)_PICS) $(BUILD)/eddy.map
	$$($(1)_CC) $$($(1)_FLAGS) -shared -Wl,-soname,libeddy.so.$(SOVERSION) \
	    -Wl,--version-script=$(BUILD)/eddy.map -o $$@ $$($(1)_PICS) $$(LDLIBS)
	ln -sf libeddy.so $$@.$(SOVERSION)

$(BUILD)/$(1)/tests/%: $(BUILD)/$(1)/obj/impl/tests/%.o $$($(1)_SUPP) $(BUILD)/$(1)/libeddy.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_FLAGS) -o $$@ $$< $$($(1)_SUPP) $(BUILD)/$(1)/libeddy.a \
	    $$(SUPPORT_WRAPS) $$(call wraps_in,impl/tests/$$*.c) -lcmocka $$(LDLIBS)

# Rewritten only when the content changes, so that what it stands for
# (the section list, the IMPL path) triggers exactly the needed rebuild.
$(BUILD)/$(1)/sections.txt: FORCE
	@mkdir -p $$(@D)
	@echo '$(SECTION_SYMS)' | cmp -s - $$@ || echo '$(SECTION_SYMS)' > $$@
$(BUILD)/$(1)/impl.txt: FORCE
	@mkdir -p $$(@D)
	@echo '$$($(1)_IMPL)' | cmp -s - $$@ || echo '$$($(1)_IMPL)' > $$@

$(BUILD)/$(1)/eddy-conformance: $$($(1)_CONF) $$($(1)_IMPL) $(BUILD)/$(1)/impl.txt
	$$($(1)_CC) $$($(1)_FLAGS) -o $$@ $$($(1)_CONF) $$($(1)_IMPL) \
	    $$(if $$(call is_shared,$$($(1)_IMPL)),-Wl$$(comma)-rpath$$(comma)$$(abspath $$(dir $$($(1)_IMPL)))) \
	    $$(IMPL_LIBS) -lcmocka $$(LDLIBS)

.PHONY: $(1) lib-$(1) unit-$(1)
lib-$(1): $(BUILD)/$(1)/libeddy.a $(if $(filter $(1),$(SHARED_VARIANTS)),$(BUILD)/$(1)/libeddy.so)
$(1): lib-$(1) $$($(1)_TESTS) $(BUILD)/$(1)/eddy-conformance

# Run every unit test binary, one after another, so that each one's
# cmocka summary stays readable; report all failures, not just the first.
unit-$(1): $$($(1)_TESTS)
	@fail=""; for t in $$^; do echo "== $$$$t"; \
	    timeout 600 $$$$t || fail="$$$$fail $$$$t"; done; \
	echo "unit tests ($(1)): $$(words $$^) binaries$$$${fail:+, FAILED:$$$$fail}"; \
	test -z "$$$$fail"
endef

$(foreach v,$(VARIANTS),$(eval $(call VARIANT_RULES,$(v))))

# Only the public API leaves the shared library: eddy_x, never eddy__x.
$(BUILD)/eddy.map:
	@mkdir -p $(@D)
	printf '{\n  global: eddy_[a-z]*;\n  local: *;\n};\n' > $@

.PHONY: all test conformance run-conformance trace memcheck sanitize \
        install install-check uninstall clean deps FORCE
FORCE:

all: gcc

deps:
	@bash ci/deps.sh

# Unit tests of both compilers, the clause trace and the conformance suite
# all run, and the target fails at the end if any of them failed.
test: deps
	@$(MAKE) --no-print-directory gcc clang
	@fail=""; \
	$(MAKE) --no-print-directory unit-gcc || fail="$$fail unit-gcc"; \
	$(MAKE) --no-print-directory unit-clang || fail="$$fail unit-clang"; \
	$(MAKE) --no-print-directory trace || fail="$$fail trace"; \
	$(MAKE) --no-print-directory run-conformance || fail="$$fail conformance"; \
	for t in $(TEST_EXTRA); do \
	    $(MAKE) --no-print-directory $$t || fail="$$fail $$t"; \
	done; \
	if [ -n "$$fail" ]; then echo "make test: FAILED:$$fail"; exit 1; fi; \
	echo "make test: all passed"

# SUBJECT=c|tornado|tornado-uvloop|all runs those subjects over the
# scenarios instead (mk/subjects.mk); without it, the built-in suite.
conformance: deps
	@$(MAKE) --no-print-directory $(if $(SUBJECT),run-subjects,run-conformance)

run-conformance: $(BUILD)/gcc/eddy-conformance
	$(BUILD)/gcc/eddy-conformance -j$(JOBS) $(CONFORMANCE_FLAGS) $(subst $(comma),$(space),$(ONLY))

trace:
	@bash ci/trace-clauses.sh

memcheck: deps
	@$(MAKE) --no-print-directory gcc
	@UNIT_TESTS='$(gcc_TESTS)' bash ci/memcheck.sh $(BUILD)/gcc

sanitize: deps
	@$(MAKE) --no-print-directory asan tsan
	@ASAN_TESTS='$(asan_TESTS)' TSAN_TESTS='$(tsan_TESTS)' \
	    bash ci/sanitize.sh $(BUILD)/asan $(BUILD)/tsan

$(BUILD)/eddy.pc: eddy.pc.in FORCE
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
	    -e 's|@VERSION@|$(VERSION)|g' $< > $@

install: lib-gcc $(BUILD)/eddy.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/eddy $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 spec/include/eddy.h $(DESTDIR)$(INCLUDEDIR)/eddy.h
	install -m 644 $(filter-out spec/include/eddy.h,$(HEADERS)) $(DESTDIR)$(INCLUDEDIR)/eddy/
	install -m 644 $(BUILD)/gcc/libeddy.a $(DESTDIR)$(LIBDIR)/libeddy.a
	install -m 755 $(BUILD)/gcc/libeddy.so $(DESTDIR)$(LIBDIR)/libeddy.so.$(VERSION)
	ln -sf libeddy.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libeddy.so.$(SOVERSION)
	ln -sf libeddy.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libeddy.so
	install -m 644 $(BUILD)/eddy.pc $(DESTDIR)$(LIBDIR)/pkgconfig/eddy.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/eddy.h $(DESTDIR)$(LIBDIR)/libeddy.a \
	    $(DESTDIR)$(LIBDIR)/libeddy.so $(DESTDIR)$(LIBDIR)/libeddy.so.$(SOVERSION) \
	    $(DESTDIR)$(LIBDIR)/libeddy.so.$(VERSION) $(DESTDIR)$(LIBDIR)/pkgconfig/eddy.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/eddy

# Install into a scratch DESTDIR and build a program through pkg-config,
# linked both dynamically and statically.
install-check:
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	$(MAKE) --no-print-directory install DESTDIR="$$d" PREFIX=/usr/local >/dev/null && \
	printf '#include <eddy.h>\n#include <stdio.h>\nint main(void)\n{\n    puts(eddy_strerror(0));\n    return 0;\n}\n' > "$$d/t.c" && \
	export PKG_CONFIG_SYSROOT_DIR="$$d" PKG_CONFIG_PATH="$$d/usr/local/lib/pkgconfig" && \
	gcc $(STD) $(WARN) "$$d/t.c" -o "$$d/t" $$(pkg-config --cflags --libs eddy) && \
	LD_LIBRARY_PATH="$$d/usr/local/lib" "$$d/t" && \
	gcc $(STD) $(WARN) "$$d/t.c" -o "$$d/ts" -static $$(pkg-config --static --cflags --libs eddy) && \
	"$$d/ts" && echo "install-check: ok"

clean:
	rm -rf $(BUILD)

# Further targets live in mk/*.mk (fuzzing, benchmarks, mutants, reports,
# coverage, subjects). A file there may append to TEST_EXTRA the targets
# that `make test` must also run.
TEST_EXTRA ?=
include $(sort $(wildcard mk/*.mk))

-include $(ALL_DEPS)
