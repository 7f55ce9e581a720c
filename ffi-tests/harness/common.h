/* Shared helpers of the C harnesses. Every harness prints only what must be
   identical between Debian's libotr and libotr-rs; run-harness.sh compares
   the outputs, and CHECK failures make the program exit non-zero. */
#ifndef HARNESS_COMMON_H
#define HARNESS_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failures;

#define CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            harness_failures++; \
        } \
    } while (0)

#define SAY(...) do { printf(__VA_ARGS__); putchar('\n'); } while (0)

static inline int harness_exit(void)
{
    fflush(stdout);
    return harness_failures ? 1 : 0;
}

static inline void print_hex(const char *label, const unsigned char *p, size_t n)
{
    size_t i;
    printf("%s ", label);
    for (i = 0; i < n; i++) printf("%02x", p[i]);
    putchar('\n');
}

#endif
