/* Minimal test harness: CHECK records a failure with file:line and keeps going. */
#ifndef GLP_CHECK_H
#define GLP_CHECK_H

#include <math.h>
#include <stdio.h>

extern int check_failures;
extern int check_count;

#define CHECK(cond)                                                    \
  do {                                                                 \
    check_count++;                                                     \
    if (!(cond)) {                                                     \
      check_failures++;                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                  \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                  \
  do {                                                                                      \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);                         \
    check_count++;                                                                          \
    if (check_a_ != check_b_) {                                                             \
      check_failures++;                                                                     \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, \
              check_a_, check_b_);                                                          \
    }                                                                                       \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                       \
  do {                                                                                              \
    double check_a_ = (double)(a), check_b_ = (double)(b);                                          \
    check_count++;                                                                                  \
    if (!(fabs(check_a_ - check_b_) <= (tol))) {                                                    \
      check_failures++;                                                                             \
      fprintf(stderr, "%s:%d: %s ~= %s failed: %.9g vs %.9g\n", __FILE__, __LINE__, #a, #b, check_a_, \
              check_b_);                                                                            \
    }                                                                                               \
  } while (0)

void test_codec(void);
void test_link(void);
void test_models(void);

#endif
