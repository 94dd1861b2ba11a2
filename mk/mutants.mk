# mk/mutants.mk - `make mutants`: the suite tests itself against one-bug
# variants of the reference (conformance/mutants/README.md).
#
# Each conformance/mutants/<clause>_<bug>.patch (and each allowed variant,
# conformance/mutants/allowed/*.patch) is applied to a fresh copy of impl/
# in $(BUILD)/mutants/<name>/impl, built into that directory's libeddy.a
# and linked with the conformance objects of the gcc variant, just as
# `make conformance IMPL=that/libeddy.a` would link them. Then the whole
# suite runs against each; the run fails unless every mutant is killed by
# at least one named case and every allowed variant passes.
# `make mutants-apply` (part of `make test`) only checks, in a second,
# that every patch still applies.

MUTANT_DIR     := $(BUILD)/mutants
MUTANT_PATCHES := $(sort $(wildcard conformance/mutants/*.patch \
                                     conformance/mutants/allowed/*.patch))
MUTANT_NAMES   := $(patsubst conformance/mutants/%.patch,%,$(MUTANT_PATCHES))
# A subset by name, e.g. make mutants MUTANTS='7.4_restart_new_id'.
MUTANTS ?=
MUTANT_RUN     := $(or $(MUTANTS),$(MUTANT_NAMES))
MUTANT_RUNNERS := $(patsubst %,$(MUTANT_DIR)/%/eddy-conformance,$(MUTANT_RUN))
# Per-case time limit for mutant runs: a mutant that hangs a case should
# not cost the default 30 s; the slowest reference case takes about 5 s.
MUTANT_CASE_TIMEOUT ?= 20

mutant_patch = patch --batch --forward --silent -p1 -r - \
               --no-backup-if-mismatch

.PHONY: mutants mutants-build mutants-apply

# A fresh copy per mutant: a patch never touches impl/ itself.
MUTANT_DEPS := $(IMPL_SRCS) $(wildcard impl/*.h)
$(MUTANT_DIR)/%/impl.stamp: conformance/mutants/%.patch $(MUTANT_DEPS)
	@rm -rf $(@D)/impl $(@D)/obj
	@mkdir -p $(@D)/impl $(@D)/obj
	@cp impl/*.c impl/*.h $(@D)/impl/
	@$(mutant_patch) -d $(@D) < $< || \
	    { echo "mutants: $< no longer applies to impl/"; exit 1; }
	@touch $@

$(MUTANT_DIR)/%/libeddy.a: $(MUTANT_DIR)/%/impl.stamp
	@echo "mutants: building $*"
	@set -e; for c in $(@D)/impl/*.c; do \
	    $(gcc_CC) $(CFLAGS_BASE) $(gcc_FLAGS) -Ispec/include -I$(@D)/impl \
	        -c $$c -o $(@D)/obj/$$(basename $$c .c).o; \
	done
	@rm -f $@ && ar rcs $@ $(@D)/obj/*.o

$(MUTANT_DIR)/%/eddy-conformance: $(MUTANT_DIR)/%/libeddy.a $(gcc_CONF)
	@$(gcc_CC) $(gcc_FLAGS) -o $@ $(gcc_CONF) $< -lcmocka $(LDLIBS)

mutants-build: $(BUILD)/gcc/eddy-conformance $(MUTANT_RUNNERS)

mutants: deps
	@$(MAKE) --no-print-directory mutants-build
	@JOBS='$(JOBS)' CASE_TIMEOUT='$(MUTANT_CASE_TIMEOUT)' \
	    bash conformance/mutants/run.sh $(BUILD)/gcc/eddy-conformance \
	    $(MUTANT_DIR) $(MUTANT_RUN)

# Every patch applies to the current impl/ (no build, no run).
mutants-apply:
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && fail="" && \
	for p in $(MUTANT_PATCHES); do \
	    rm -rf "$$d/impl" && mkdir -p "$$d/impl" && \
	    cp impl/*.c impl/*.h "$$d/impl/" && \
	    $(mutant_patch) -d "$$d" < "$$p" >/dev/null 2>&1 || \
	    fail="$$fail $$p"; \
	done; \
	if [ -n "$$fail" ]; then \
	    echo "mutants-apply: no longer apply:$$fail"; exit 1; \
	fi; \
	echo "mutants-apply: $(words $(MUTANT_PATCHES)) patches apply to impl/"

TEST_EXTRA += mutants-apply
