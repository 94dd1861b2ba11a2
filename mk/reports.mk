# mk/reports.mk - what `make conformance` leaves behind, and the checks of
# the harness itself (conformance/README.md).
#
#   make conformance            also writes $(BUILD)/conformance/report.md,
#                               report.json, junit.xml and results.tsv
#   make conformance IMPL=x.a IMPL_NAME=name   judge x.a against
#                               conformance/expect/name.txt and name it so in
#                               the reports (default: the library's name,
#                               libfoo.a -> foo; without IMPL, reference).
#                               Not SUBJECT, which picks scenario subjects.
#   make harness-check          the runner's self-test and its expectation-
#                               file rules (part of `make test`)
#   make stress [STRESS_RUNS=30]   the whole suite again and again under
#                               stress-ng --cpu 2 (ci/stress.sh)
#   make trace [KILLS=file]     also warns about MUST clauses no killed
#                               mutant targets, from $(BUILD)/mutants/kills.tsv

REPORT_DIR  ?= $(BUILD)/conformance
IMPL_NAME   ?= $(if $(IMPL),$(patsubst lib%,%,$(firstword $(subst ., ,$(notdir $(IMPL))))),reference)
STRESS_RUNS ?= 30

# The reports and the subject go first, so that a --report or --subject in
# CONFORMANCE_FLAGS (given later on the runner's command line) still wins.
run-conformance: override CONFORMANCE_FLAGS := --subject $(IMPL_NAME) \
    --report $(REPORT_DIR) $(CONFORMANCE_FLAGS)

# The mutant kills file the trace gate reads (empty: none).
KILLS ?= $(wildcard $(BUILD)/mutants/kills.tsv)
trace: export TRACE_KILLS := $(KILLS)

.PHONY: harness-check stress
harness-check: $(BUILD)/gcc/eddy-conformance
	@bash ci/harness-check.sh $(BUILD)/gcc/eddy-conformance

stress: deps $(BUILD)/gcc/eddy-conformance
	@bash ci/stress.sh $(BUILD)/gcc/eddy-conformance $(STRESS_RUNS)

TEST_EXTRA += harness-check
