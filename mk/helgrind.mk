# mk/helgrind.mk - `make helgrind`: valgrind's helgrind over the unit tests
# and conformance cases that use threads (ci/helgrind.sh); any report
# fails the target.
#
# The `hg` variant is gcc at -O1 with ci/helgrind-atomics.h force-included,
# so that helgrind sees the ordering C11 atomics give (it models pthread
# primitives only); -O1 keeps the stacks of reports readable.

hg_CC    := gcc
hg_FLAGS := -O1 -g -include ci/helgrind-atomics.h
$(eval $(call VARIANT_RULES,hg))

# The unit tests that start threads of their own or through an executor.
HG_UNIT := $(patsubst impl/tests/%.c,$(BUILD)/hg/tests/%,$(shell grep -l -E \
    'pthread_create|eddy_executor_new|run_in_executor' $(TEST_SRCS) /dev/null))
# The conformance cases about threads: the thread rule (§1.6), the current
# loop per thread (§2.2), callbacks, futures and executors (§4), timeouts
# and periodic callbacks from other threads (§5.10, §6.8), exits reported
# across threads (§8.20, §8.22), and every case named for threads.
HG_CASES ?= 1.6 1.7 2.2 2.9 4 5.10 6.8 8.20 8.22 thread

.PHONY: helgrind
helgrind: deps
	@$(MAKE) --no-print-directory $(HG_UNIT) $(BUILD)/hg/eddy-conformance
	@UNIT_TESTS='$(HG_UNIT)' bash ci/helgrind.sh $(BUILD)/hg $(HG_CASES)
