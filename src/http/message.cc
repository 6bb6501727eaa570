#include "http/message.h"

#include <ctime>

#include "common/strings.h"

namespace funcd::http {

namespace {

void AppendFields(std::string& out, const Fields& fields) {
  for (const auto& f : fields) {
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace

void AppendHead(std::string& out, const RequestHead& head) {
  out.append(head.method_string());
  out.push_back(' ');
  out.append(head.target());
  out.append(head.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  AppendFields(out, head);
}

void AppendHead(std::string& out, const ResponseHead& head) {
  out.append(head.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  StrAppend(out, head.result_int());
  out.push_back(' ');
  std::string_view reason = head.reason();
  if (reason.empty()) {
    reason = ReasonPhrase(head.result_int());
  }
  out.append(reason);
  out.append("\r\n");
  AppendFields(out, head);
}

void ApplyFraming(Fields& fields, Framing framing, std::uint64_t content_length) {
  switch (framing) {
    case Framing::kNone:
      fields.erase(Field::transfer_encoding);
      break;
    case Framing::kContentLength:
      fields.erase(Field::transfer_encoding);
      fields.set(Field::content_length, std::to_string(content_length));
      break;
    case Framing::kChunked:
      fields.erase(Field::content_length);
      fields.set(Field::transfer_encoding, "chunked");
      break;
    case Framing::kUntilClose:
      fields.erase(Field::content_length);
      fields.erase(Field::transfer_encoding);
      break;
  }
}

void StripHopByHop(Fields& fields, bool keep_upgrade) {
  // Fields named by Connection are hop-by-hop too ("Connection: close, X-Foo").
  std::string connection(fields[Field::connection]);
  if (!connection.empty()) {
    for (std::string_view token : Split(connection, ',')) {
      token = TrimSpace(token);
      if (token.empty() || (keep_upgrade && EqualsIgnoreCase(token, "upgrade"))) {
        continue;
      }
      fields.erase(token);
    }
  }
  if (!keep_upgrade) {
    fields.erase(Field::connection);
    fields.erase(Field::upgrade);
  } else if (!connection.empty()) {
    fields.set(Field::connection, "Upgrade");
  }
  fields.erase(Field::keep_alive);
  fields.erase(Field::proxy_connection);
  fields.erase(Field::proxy_authenticate);
  fields.erase(Field::proxy_authorization);
  fields.erase(Field::te);
  fields.erase(Field::trailer);
  fields.erase(Field::transfer_encoding);
}

bool IsUpgradeRequest(const RequestHead& head) {
  return !head[Field::upgrade].empty() && ContainsIgnoreCase(head[Field::connection], "upgrade");
}

bool ResponseHasNoBody(unsigned status, Verb request_method) {
  return request_method == Verb::head || (status >= 100 && status < 200) || status == 204 ||
         status == 304;
}

std::string_view FieldValue(const Fields& fields, std::string_view name) {
  auto it = fields.find(name);
  return it == fields.end() ? std::string_view() : std::string_view(it->value());
}

bool MediaTypeIs(std::string_view content_type, std::string_view media_type) {
  size_t semicolon = content_type.find(';');
  return EqualsIgnoreCase(TrimSpace(content_type.substr(0, semicolon)), media_type);
}

Target SplitTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) {
    return {target, {}};
  }
  return {target.substr(0, q), target.substr(q + 1)};
}

std::optional<std::string> PercentDecode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    int hi = hex(text[i + 1]);
    int lo = hex(text[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string_view ReasonPhrase(unsigned status) {
  if (beast_http::int_to_status(status) == beast_http::status::unknown) {
    return {};
  }
  return beast_http::obsolete_reason(static_cast<beast_http::status>(status));
}

std::string_view HttpDate() {
  thread_local std::time_t cached_second = 0;
  thread_local char cached[40];
  thread_local size_t cached_len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    struct tm tm;
    gmtime_r(&now, &tm);
    cached_len = std::strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return std::string_view(cached, cached_len);
}

}  // namespace funcd::http
