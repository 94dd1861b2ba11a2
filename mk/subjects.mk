# mk/subjects.mk - the subject protocol (SPEC.md, Appendix C): scenario
# files run by subjects, a C one linked with IMPL and a Python one over
# Debian's Tornado, compared side by side.
#
#   make conformance SUBJECT=c|tornado|tornado-uvloop|all [ONLY=2.13,7]
#                         run the subjects over conformance/scenarios/ and
#                         write $(BUILD)/conformance/compare.md
#   make subjects-check   the C subject passes every scenario (make test)
#   make subject-c        build $(BUILD)/subjects/subject_c
#
# SUBJECT=tornado installs python3-tornado, tornado-uvloop also
# python3-uvloop (apt-get, as root), through ci/subjects-deps.sh.

SUBJECT     ?=
SCENARIOS   ?= conformance/scenarios
SUBJECT_C   := $(BUILD)/subjects/subject_c
SUBJECT_C_SRCS := conformance/scenario.c \
                  $(sort $(wildcard conformance/subjects/*.c))
SUBJECT_C_DEPS := $(SUBJECT_C_SRCS) conformance/scenario.h \
                  $(wildcard conformance/subjects/*.h) $(HEADERS)
COMPARE     = python3 conformance/compare.py --jobs $(JOBS) \
              $(if $(ONLY),--only '$(ONLY)')
# Extra arguments for compare.py, e.g. COMPARE_FLAGS=--verbose.
COMPARE_FLAGS ?=

# Linked as the runner is: IMPL, or the gcc variant's libeddy.a.
$(SUBJECT_C): $(SUBJECT_C_DEPS) $(gcc_IMPL) $(BUILD)/gcc/impl.txt
	@mkdir -p $(@D)
	$(gcc_CC) $(CFLAGS_BASE) $(gcc_FLAGS) $(CONF_INC) -o $@ \
	    $(SUBJECT_C_SRCS) $(gcc_IMPL) \
	    $(if $(call is_shared,$(gcc_IMPL)),-Wl$(comma)-rpath$(comma)$(abspath $(dir $(gcc_IMPL)))) \
	    $(IMPL_LIBS) $(LDLIBS)

subject_list = $(if $(filter all,$(SUBJECT)),c tornado tornado-uvloop,$(subst $(comma),$(space),$(SUBJECT)))

.PHONY: subject-c subjects-check run-subjects subjects-deps
subject-c: $(SUBJECT_C)

subjects-deps:
	@bash ci/subjects-deps.sh $(subject_list)

# The body of `make conformance SUBJECT=...` (the top Makefile's
# conformance target dispatches here when SUBJECT is set).
run-subjects: $(if $(filter c all,$(subject_list)),$(SUBJECT_C)) subjects-deps
	$(COMPARE) --subject-c $(SUBJECT_C) \
	    --scenarios $(SCENARIOS) --out $(BUILD)/conformance/compare.md \
	    $(COMPARE_FLAGS) $(subject_list)

# Fast check for `make test`: the C subject (the reference) passes every
# scenario, with no expectation file to excuse anything.
subjects-check: $(SUBJECT_C)
	@bash ci/subjects-deps.sh c
	$(COMPARE) --subject-c $(SUBJECT_C) \
	    --scenarios $(SCENARIOS) --out $(BUILD)/conformance/subjects-check.md \
	    --strict $(COMPARE_FLAGS) c

TEST_EXTRA += subjects-check
