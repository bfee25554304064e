#include <stdio.h>

#include "check.h"

int check_failures = 0;
int check_count = 0;

int main(void) {
  test_codec();
  test_link();
  test_models();
  printf("%d checks, %d failures\n", check_count, check_failures);
  return check_failures == 0 ? 0 : 1;
}
