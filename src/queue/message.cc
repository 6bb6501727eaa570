#include "queue/message.h"

#include "common/strings.h"

namespace funcd::queue {

bool IsStoredField(std::string_view name) {
  static constexpr std::string_view kSkipped[] = {"Connection",
                                                  "Keep-Alive",
                                                  "Proxy-Connection",
                                                  "Proxy-Authenticate",
                                                  "Proxy-Authorization",
                                                  "TE",
                                                  "Trailer",
                                                  "Transfer-Encoding",
                                                  "Upgrade",
                                                  "Content-Length",
                                                  "Expect"};
  for (std::string_view skipped : kSkipped) {
    if (EqualsIgnoreCase(name, skipped)) {
      return false;
    }
  }
  return true;
}

namespace {

constexpr unsigned char kVersion = 1;
// More headers than any HTTP server accepts: a sign of corrupt bytes, not a real request.
constexpr std::uint64_t kMaxHeaders = 100000;

void PutVarint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void PutString(std::string& out, std::string_view text) {
  PutVarint(out, text.size());
  out.append(text);
}

// Reads from a view that shrinks as fields are taken.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool Varint(std::uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (data_.empty()) {
        return false;
      }
      const auto byte = static_cast<unsigned char>(data_.front());
      data_.remove_prefix(1);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        return true;
      }
    }
    return false;
  }

  bool String(std::string& out) {
    std::uint64_t size = 0;
    if (!Varint(size) || size > data_.size()) {
      return false;
    }
    out.assign(data_.substr(0, size));
    data_.remove_prefix(size);
    return true;
  }

  bool Byte(unsigned char& out) {
    if (data_.empty()) {
      return false;
    }
    out = static_cast<unsigned char>(data_.front());
    data_.remove_prefix(1);
    return true;
  }

  std::string_view rest() const { return data_; }

 private:
  std::string_view data_;
};

std::size_t MetaSizeHint(const Message& m) {
  std::size_t size = 64 + m.call_id.size() + m.function.size() + m.key.size() + m.method.size() +
                     m.path.size() + m.query.size() + m.host.size() + m.callback_url.size();
  for (const Header& h : m.headers) {
    size += h.name.size() + h.value.size() + 4;
  }
  return size;
}

void AppendMeta(std::string& out, const Message& m) {
  out.push_back(static_cast<char>(kVersion));
  PutString(out, m.call_id);
  PutString(out, m.function);
  PutString(out, m.key);
  PutString(out, m.method);
  PutString(out, m.path);
  PutString(out, m.query);
  PutString(out, m.host);
  PutString(out, m.callback_url);
  PutVarint(out, static_cast<std::uint64_t>(m.enqueued_at));
  PutVarint(out, m.headers.size());
  for (const Header& h : m.headers) {
    PutString(out, h.name);
    PutString(out, h.value);
  }
}

Error Corrupt(std::string_view what) {
  return MakeError(ErrorCode::kInvalidArgument, StrCat("corrupt queue message: ", what));
}

}  // namespace

std::string EncodeMeta(const Message& message) {
  std::string out;
  out.reserve(MetaSizeHint(message));
  AppendMeta(out, message);
  return out;
}

Result<void> DecodeMeta(std::string_view meta, Message& m) {
  Reader reader(meta);
  unsigned char version = 0;
  if (!reader.Byte(version)) {
    return Corrupt("empty");
  }
  if (version != kVersion) {
    return Corrupt(StrCat("unknown version ", static_cast<int>(version)));
  }
  std::uint64_t enqueued_at = 0;
  std::uint64_t count = 0;
  if (!reader.String(m.call_id) || !reader.String(m.function) || !reader.String(m.key) ||
      !reader.String(m.method) || !reader.String(m.path) || !reader.String(m.query) ||
      !reader.String(m.host) || !reader.String(m.callback_url) || !reader.Varint(enqueued_at) ||
      !reader.Varint(count)) {
    return Corrupt("truncated fields");
  }
  // Each header takes at least two bytes: a count beyond that is a lie.
  if (count > kMaxHeaders || count > reader.rest().size() / 2) {
    return Corrupt("implausible header count");
  }
  m.enqueued_at = static_cast<std::int64_t>(enqueued_at);
  m.headers.clear();
  m.headers.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    Header& h = m.headers.emplace_back();
    if (!reader.String(h.name) || !reader.String(h.value)) {
      return Corrupt("truncated headers");
    }
  }
  if (!reader.rest().empty()) {
    return Corrupt("trailing bytes");
  }
  return Ok();
}

std::string EncodeFramed(const Message& message) {
  std::string meta = EncodeMeta(message);
  std::string out;
  out.reserve(meta.size() + message.body.size() + 10);
  PutVarint(out, meta.size());
  out.append(meta);
  out.append(message.body);
  return out;
}

Result<Message> DecodeFramed(std::string_view framed) {
  Reader reader(framed);
  std::uint64_t meta_size = 0;
  if (!reader.Varint(meta_size) || meta_size > reader.rest().size()) {
    return Corrupt("bad frame");
  }
  Message message;
  FUNCD_RETURN_IF_ERROR(DecodeMeta(reader.rest().substr(0, meta_size), message));
  message.body.assign(reader.rest().substr(meta_size));
  return message;
}

}  // namespace funcd::queue
