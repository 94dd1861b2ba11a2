/* fuzz/fuzz_scenario.c - the input target of the scenario reader
 * (conformance/scenario.c, SPEC.md Appendix C), which reads files from
 * outside. Any bytes must give either a well-formed scenario or a clean
 * error: -EINVAL with "line N: why", -EFBIG past the size limit, never a
 * crash, a leak (LeakSanitizer, valgrind) or an out-parameter written on
 * failure. The same bytes must give the same answer every time, and a
 * short error buffer must get a cut, terminated copy of the same message.
 */
#include "fuzz.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "../conformance/scenario.h"

static void check_op(const struct eddy_scn_op *op, int lines, int prev)
{
    FZ_CHECK(op->line >= prev && op->line <= lines,
             "operation on line %d of %d (previous %d)", op->line, lines,
             prev);
    FZ_CHECK(op->code >= 0 && op->code < EDDY_OP_COUNT, "opcode %d",
             (int)op->code);
    FZ_CHECK(op->argc >= 1 && op->argv != NULL && op->argv[0] != NULL,
             "operation on line %d has no name", op->line);
    const char *name = eddy_scn_opname(op->code);
    FZ_CHECK(name != NULL && strcmp(op->argv[0], name) == 0,
             "line %d: argv[0] %s for opcode %s", op->line, op->argv[0],
             name != NULL ? name : "?");
    for (int i = 0; i < op->argc; i++) {
        FZ_CHECK(op->argv[i] != NULL, "line %d: argument %d is NULL",
                 op->line, i);
    }
    FZ_CHECK(op->block == NULL || (op->block[0] != '\0' &&
                                   strlen(op->block) <= EDDY_SCN_MAX_NAME),
             "line %d: block name", op->line);
}

static void check_expect(const struct eddy_scn_expect *e, int lines)
{
    FZ_CHECK(e->line >= 1 && e->line <= lines, "expectation on line %d",
             e->line);
    FZ_CHECK(e->kind >= EDDY_EXPECT_EXACT && e->kind <= EDDY_EXPECT_GAP,
             "expectation kind %d", (int)e->kind);
    for (int i = 0; i < e->argc; i++) {
        FZ_CHECK(e->argv[i] != NULL, "line %d: argument %d is NULL",
                 e->line, i);
    }
}

/* Everything a reader of the result may rely on. */
static void check_scenario(const struct eddy_scenario *scn, int lines)
{
    FZ_CHECK(scn->name != NULL && scn->name[0] != '\0',
             "a scenario without a name");
    FZ_CHECK(isfinite(scn->timeout_s) && scn->timeout_s > 0,
             "timeout %g", scn->timeout_s);
    for (size_t i = 0; i < scn->nclauses; i++) {
        FZ_CHECK(scn->clauses[i] != NULL, "clause %zu is NULL", i);
    }
    for (size_t i = 0; i < scn->nrequires; i++) {
        FZ_CHECK(scn->requires[i] != NULL, "requirement %zu is NULL", i);
    }
    int prev = 1;
    for (size_t i = 0; i < scn->nops; i++) {
        check_op(&scn->ops[i], lines, prev);
        prev = scn->ops[i].line;
    }
    for (size_t i = 0; i < scn->nexpects; i++) {
        check_expect(&scn->expects[i], lines);
    }
}

static int count_lines(const uint8_t *data, size_t size)
{
    int lines = 1;
    for (size_t i = 0; i < size; i++) {
        lines += data[i] == '\n';
    }
    return lines;
}

/* A second parse into a short buffer: the same result, the message cut
 * and terminated. */
static void check_short_buffer(const uint8_t *data, size_t size, int rc,
                               const char *msg)
{
    char small[8];
    memset(small, 'x', sizeof small);
    struct eddy_scenario *scn = NULL;
    int again = eddy_scn_parse((const char *)data, size, &scn, small, 6);
    FZ_EXPECT_RC(again, rc, "a second parse of the same bytes");
    eddy_scn_free(scn);
    if (rc == -EINVAL) {
        FZ_CHECK(small[5] == '\0' && strncmp(small, msg, 5) == 0 &&
                     small[6] == 'x',
                 "a 6-byte error buffer holds \"%.8s\"", small);
    }
    FZ_EXPECT_RC(eddy_scn_parse((const char *)data, size, &scn, NULL, 0),
                 rc, "a parse without an error buffer");
    eddy_scn_free(scn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    memset(err, 'x', sizeof err);
    struct eddy_scenario *const untouched = (struct eddy_scenario *)err;
    struct eddy_scenario *scn = untouched;
    int rc = eddy_scn_parse((const char *)data, size, &scn, err, sizeof err);
    if (rc == 0) {
        check_scenario(scn, count_lines(data, size));
        eddy_scn_free(scn);
    } else {
        FZ_CHECK(scn == untouched, "a failed parse wrote its out-parameter");
        FZ_CHECK(rc == -EINVAL || rc == -EFBIG || rc == -ENOMEM,
                 "parse returned %d", rc);
        FZ_CHECK(rc != -EFBIG || size > EDDY_SCN_MAX_BYTES,
                 "-EFBIG for %zu bytes", size);
        FZ_CHECK(rc != -EINVAL || (memchr(err, '\0', sizeof err) != NULL &&
                                   strncmp(err, "line ", 5) == 0),
                 "error message \"%.40s\"", err);
    }
    check_short_buffer(data, size, rc, err);
    return 0;
}
