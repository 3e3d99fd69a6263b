#ifndef SKEIN_FUZZ_DRIVER_H
#define SKEIN_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver (command-line flags, corpus, mutation loop) on `callback`.
///
/// SwiftPM links an executable target with `--defsym main=<Module>_main`, so libFuzzer's
/// own `main` is never linked in; each fuzz target's `@main` calls this instead.
int skein_fuzz_main(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size));

#endif
