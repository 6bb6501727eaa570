#pragma once

#include <string_view>

namespace funcd::gateway {

// The single-page web UI served at /ui/: lists functions (from /system/functions, with the
// browser's basic-auth prompt) and invokes them.
std::string_view UiPage();

}  // namespace funcd::gateway
