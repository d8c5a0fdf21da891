/* NULL-terminated vectors of owned strings. */
#pragma once

#include <stddef.h>

/* Append a copy of S; 0 or -ENOMEM. */
int strv_push(char ***v, const char *s);
size_t strv_len(char *const *v);
/* Free the strings and the vector (NULL is fine). */
void strv_free_all(char **v);
