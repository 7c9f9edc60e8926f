/* SANITIZED is 1 in AddressSanitizer builds (gcc or clang), where the
 * sanitizer runtime needs system calls a production filter forbids. */
#ifndef SVTPM_SANITIZER_H
#define SVTPM_SANITIZER_H
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif
#endif
