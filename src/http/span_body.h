#pragma once

// A Beast body type for relaying without copies: the parser hands body bytes over as views
// into the connection's read buffer instead of copying them into storage.

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <vector>

#include "common/asio.h"

namespace funcd::http {

struct SpanBody {
  struct value_type {
    // Views of the body bytes parsed by the last put(); they point into the read buffer and
    // stay valid until those bytes are consumed from it.
    std::vector<asio::const_buffer> pieces;
  };

  class reader {
   public:
    template <bool kIsRequest, class Fields>
    reader(boost::beast::http::header<kIsRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>&, error_code& ec) { ec = {}; }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (asio::const_buffer b : boost::beast::buffers_range_ref(buffers)) {
        if (b.size() > 0) {
          body_.pieces.push_back(b);
          n += b.size();
        }
      }
      return n;
    }

    void finish(error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

}  // namespace funcd::http
