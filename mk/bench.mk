# mk/bench.mk - eddy against libuv, libev and libevent on the same work
# (bench/README.md). `make bench` builds and runs everything interleaved and
# writes $(BUILD)/bench/results.md; `make bench-smoke` builds the programs
# and runs each workload once on a tiny size (part of `make test`).
#
# The programs are built like the release library (gcc -O2) and link every
# library statically, as eddy's own libeddy.a is, so no one pays for PLT
# calls the others do not.

BENCH_DIR   := $(BUILD)/bench
BENCH_CC    := $(gcc_CC)
BENCH_FLAGS := $(CFLAGS_BASE) -O2 -g
BENCH_LIBS  := eddy uv ev event
BENCH_PROGS := $(addprefix $(BENCH_DIR)/bench-,$(BENCH_LIBS))
BENCH_COMMON := $(BENCH_DIR)/obj/common.o

# Static archives from the Debian -dev packages, then their own needs.
bench_link_eddy  := $(BUILD)/gcc/libeddy.a
bench_link_uv    := -Wl,-Bstatic -luv_a -Wl,-Bdynamic -ldl
bench_link_ev    := -Wl,-Bstatic -lev -Wl,-Bdynamic
bench_link_event := -Wl,-Bstatic -levent_pthreads -levent_core -Wl,-Bdynamic

.PHONY: bench bench-smoke bench-build bench-deps

bench-deps:
	@sh bench/deps.sh

$(BENCH_DIR)/obj/%.o: bench/%.c bench/common.h
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_FLAGS) -Ispec/include -c $< -o $@

$(BENCH_DIR)/bench-%: $(BENCH_DIR)/obj/bench_%.o $(BENCH_COMMON)
	$(BENCH_CC) -O2 -g -o $@ $(filter %.o,$^) $(bench_link_$*) $(LDLIBS)

$(BENCH_DIR)/bench-eddy: $(BUILD)/gcc/libeddy.a

bench-build: bench-deps
	@$(MAKE) --no-print-directory $(BENCH_PROGS)

# make bench BENCH_REPS=9 BENCH_ONLY='chain|timers' (see bench/run.sh)
BENCH_REPS ?= 5
bench: bench-build
	@BENCH_REPS=$(BENCH_REPS) sh bench/run.sh $(BENCH_DIR)

bench-smoke: bench-build
	@sh bench/run.sh --smoke $(BENCH_DIR)

TEST_EXTRA += bench-smoke
