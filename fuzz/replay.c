/* fuzz/replay.c - a plain main() that runs a fuzz target over saved inputs,
 * so that gcc, valgrind and `make test` check the corpus without clang's
 * libFuzzer. Each argument is a file or a directory (its regular files, in
 * name order). A model violation aborts with the input's name; otherwise
 * it prints how many inputs ran.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Only targets with one-time setup define it. */
#pragma weak LLVMFuzzerInitialize

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -errno;
    }
    size_t cap = 4096;
    size_t n = 0;
    uint8_t *buf = malloc(cap);
    size_t got = 0;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int err = buf == NULL ? -ENOMEM : ferror(f) ? -EIO : 0;
    fclose(f);
    if (err != 0) {
        free(buf);
        return err;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int run_file(const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int err = read_file(path, &data, &len);
    if (err != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(-err));
        return err;
    }
    fz_set_input_name(path);
    LLVMFuzzerTestOneInput(data, len);
    fz_set_input_name(NULL);
    free(data);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect the names first so that the order does not depend on the file
 * system. */
static int run_dir(const char *dir, long *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char **more = realloc(names, (n + 1) * sizeof *names);
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = more != NULL ? malloc(len) : NULL;
        if (path == NULL) {
            names = more != NULL ? more : names;
            break;
        }
        names = more;
        snprintf(path, len, "%s/%s", dir, e->d_name);
        names[n++] = path;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            rc |= run_file(names[i]) != 0;
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    long count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
        } else if (S_ISDIR(st.st_mode)) {
            rc |= run_dir(argv[i], &count) != 0;
        } else {
            rc |= run_file(argv[i]) != 0;
            count++;
        }
    }
    printf("%s: %ld inputs replayed%s\n", argv[0], count,
           rc != 0 ? ", some could not be read" : ", no violation");
    return rc;
}
