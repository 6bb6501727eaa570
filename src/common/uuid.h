#pragma once

#include <string>

namespace funcd {

// A random (version 4) UUID in canonical text form. Thread-safe; not for cryptography.
std::string NewUuid();
// The same, written into `out` (36 characters, no terminator).
void NewUuid(char (&out)[36]);

}  // namespace funcd
