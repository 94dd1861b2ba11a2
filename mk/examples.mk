# mk/examples.mk - rules for the example programs (included by the top
# Makefile; it uses $(BUILD), $(STD), $(WARN)). `make test` builds them.
#
#   make examples     build $(BUILD)/examples/{hello_prefork,tcp_echo}
#   make load-fault   run ci/load-fault.sh against hello_prefork

EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))
EXAMPLES_LIB ?= $(BUILD)/gcc/libeddy.a

$(BUILD)/examples/%: examples/%.c $(EXAMPLES_LIB) $(HEADERS)
	@mkdir -p $(@D)
	gcc $(STD) $(WARN) -pthread -O2 -g -Ispec/include $< -o $@ \
	    $(EXAMPLES_LIB) -pthread -lm

.PHONY: examples load-fault
examples: $(EXAMPLE_BINS)

load-fault: $(BUILD)/examples/hello_prefork
	bash ci/load-fault.sh $(BUILD)/examples/hello_prefork

TEST_EXTRA += examples
