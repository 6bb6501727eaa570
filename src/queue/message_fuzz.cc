// libFuzzer target: the async queue's message decoder (message.h) on arbitrary bytes, as
// read back from a damaged queue file or a foreign JetStream message. Decoding must never
// crash or over-read; whatever decodes must encode back to bytes that decode to the same
// message.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "queue/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  funcd::queue::Message meta_only;
  if (funcd::queue::DecodeMeta(bytes, meta_only)) {
    funcd::queue::Message again;
    if (!funcd::queue::DecodeMeta(funcd::queue::EncodeMeta(meta_only), again) ||
        !(again == meta_only)) {
      std::abort();  // the meta encoding does not round-trip
    }
  }

  auto framed = funcd::queue::DecodeFramed(bytes);
  if (framed) {
    auto again = funcd::queue::DecodeFramed(funcd::queue::EncodeFramed(*framed));
    if (!again || !(*again == *framed)) {
      std::abort();  // the framed encoding does not round-trip
    }
  }
  return 0;
}
