#pragma once

#include <string>

namespace funcd {

// A random (version 4) UUID in canonical text form. Thread-safe; not for cryptography.
std::string NewUuid();

}  // namespace funcd
