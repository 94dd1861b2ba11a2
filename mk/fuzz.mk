# mk/fuzz.mk - the fuzz targets of fuzz/ (see fuzz/README.md).
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_ONLY=sched]   libFuzzer, clang, ASan+UBSan
#   make fuzz-replay                   every committed input, gcc, plain main
#   make fuzz-memcheck                 the same inputs under valgrind
#
# A target T is fuzz/fuzz_T.c plus fuzz/T_*.c plus fuzz/common.c; its seed
# corpus and saved crashers live in fuzz/corpus/T/. New inputs that the
# fuzzer finds go to $(BUILD)/fuzz/corpus/T, crashers to
# $(BUILD)/fuzz/artifacts/T, never into the tree.

FUZZ_SECONDS ?= 60
FUZZ_ONLY ?= $(FUZZ_TARGETS)
# Extra libFuzzer options, e.g. FUZZ_OPTS='-jobs=2 -workers=2'.
FUZZ_OPTS ?=

FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_CC := clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN)
# Fuzz code sees spec/include only; it reaches the two internal headers it
# needs (impl/internal.h, impl/process_os.h) by relative path.
FUZZ_INC := -Ispec/include

# A target may also need code from outside fuzz/ (FUZZ_EXTRA_<t>) and take
# seeds kept elsewhere in the tree (FUZZ_SEEDS_<t>).
FUZZ_EXTRA_scenario := conformance/scenario.c
FUZZ_SEEDS_scenario := conformance/scenarios
FUZZ_OPTS_scenario := -dict=fuzz/scenario.dict

fuzz_srcs = fuzz/fuzz_$(1).c $(sort $(wildcard fuzz/$(1)_*.c)) fuzz/common.c \
            $(FUZZ_EXTRA_$(1))
fuzz_objs = $(patsubst %.c,$(FUZZ_DIR)/$(2)/%.o,$(call fuzz_srcs,$(1)))
fuzz_seeds = fuzz/corpus/$(1) $(FUZZ_SEEDS_$(1))

# The library under test, instrumented for coverage and the sanitizers.
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(IMPL_SRCS))

$(FUZZ_DIR)/obj/impl/%.o: impl/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS_BASE) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link \
	    $(IMPL_INC) -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libeddy.a: $(FUZZ_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

# Fuzz code and the extra sources it needs (fuzz/, conformance/).
$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS_BASE) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link \
	    $(FUZZ_INC) -MMD -MP -c $< -o $@

# The replayer: gcc, release flags, against the gcc variant's library.
$(FUZZ_DIR)/replay-obj/%.o: %.c
	@mkdir -p $(@D)
	$(gcc_CC) $(CFLAGS_BASE) $(gcc_FLAGS) $(FUZZ_INC) -MMD -MP -c $< -o $@

define FUZZ_RULES
$(FUZZ_DIR)/fuzz_$(1): $(call fuzz_objs,$(1),obj) $(FUZZ_DIR)/libeddy.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $$@ $$^ $(LDLIBS)

$(FUZZ_DIR)/replay_$(1): $(call fuzz_objs,$(1),replay-obj) $(FUZZ_DIR)/replay-obj/fuzz/replay.o $(BUILD)/gcc/libeddy.a
	$(gcc_CC) $(gcc_FLAGS) -o $$@ $$^ $(LDLIBS)

FUZZ_DEPS += $(patsubst %.o,%.d,$(call fuzz_objs,$(1),obj) $(call fuzz_objs,$(1),replay-obj))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULES,$(t))))

FUZZ_DEPS += $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_DIR)/replay-obj/fuzz/replay.d
ALL_DEPS += $(FUZZ_DEPS)

.PHONY: fuzz fuzz-build fuzz-replay fuzz-memcheck

fuzz-build: $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))

# One target for FUZZ_SECONDS, seeded from the committed corpus; the first
# finding stops the run (libFuzzer prints the input it saved).
fuzz_run = mkdir -p $(FUZZ_DIR)/corpus/$(1) $(FUZZ_DIR)/artifacts/$(1) && \
    echo "== fuzz $(1) for $(FUZZ_SECONDS) s" && \
    $(FUZZ_DIR)/fuzz_$(1) -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
        -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$(1)/ \
        $(FUZZ_OPTS_$(1)) $(FUZZ_OPTS) $(FUZZ_DIR)/corpus/$(1) \
        $(wildcard $(call fuzz_seeds,$(1)))

fuzz: deps
	@$(MAKE) --no-print-directory $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_ONLY))
	@$(foreach t,$(FUZZ_ONLY),$(call fuzz_run,$(t)) && ) true

# Every committed input (seeds and saved crashers) through the plain-main
# replayer: no clang needed, takes seconds.
fuzz-replay: $(addprefix $(FUZZ_DIR)/replay_,$(FUZZ_TARGETS))
	@$(foreach t,$(FUZZ_TARGETS),$(FUZZ_DIR)/replay_$(t) \
	    $(wildcard $(call fuzz_seeds,$(t))) && ) true

fuzz-memcheck: $(addprefix $(FUZZ_DIR)/replay_,$(FUZZ_TARGETS))
	@$(foreach t,$(FUZZ_TARGETS),valgrind -q --leak-check=full \
	    --errors-for-leak-kinds=definite --error-exitcode=1 \
	    $(FUZZ_DIR)/replay_$(t) $(wildcard $(call fuzz_seeds,$(t))) && ) true

TEST_EXTRA += fuzz-replay
