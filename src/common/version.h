#pragma once

namespace funcd {

// The release version ("0.1.0") and the git commit the binary was built from.
const char* Version();
const char* GitSha();

}  // namespace funcd
