#include "watchdog/cgi.h"

#include <map>
#include <unordered_map>

#include "common/strings.h"

namespace funcd::watchdog {

namespace {

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Appends entries, replacing an earlier entry with the same key in place.
class EnvBuilder {
 public:
  explicit EnvBuilder(const std::vector<std::string>& base) {
    entries_.reserve(base.size() + 24);
    for (const std::string& entry : base) {
      Add(entry);
    }
  }
  void Add(std::string entry) {
    std::string_view key = std::string_view(entry).substr(0, entry.find('='));
    auto it = index_.find(std::string(key));
    if (it != index_.end()) {
      entries_[it->second] = std::move(entry);
      return;
    }
    index_.emplace(std::string(key), entries_.size());
    entries_.push_back(std::move(entry));
  }
  std::vector<std::string> Take() { return std::move(entries_); }

 private:
  std::vector<std::string> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace

std::string CanonicalHeaderKey(std::string_view key) {
  for (char c : key) {
    if (!IsTokenChar(c)) {
      return std::string(key);
    }
  }
  std::string out(key);
  bool upper = true;
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 32);
    } else if (!upper && c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c + 32);
    }
    upper = c == '-';
  }
  return out;
}

std::vector<std::string> BuildCgiEnvironment(const std::vector<std::string>& base,
                                             const http::RequestHead& head,
                                             std::int64_t content_length, CgiFlavor flavor) {
  EnvBuilder env(base);
  // Go's request.Header: Host and Transfer-Encoding are taken out of the map.
  std::unordered_map<std::string, bool> seen;
  std::string transfer_encoding;
  for (const auto& field : head) {
    std::string key = CanonicalHeaderKey(std::string_view(field.name_string()));
    if (key == "Host") {
      continue;
    }
    if (key == "Transfer-Encoding") {
      if (transfer_encoding.empty()) {
        transfer_encoding = std::string(field.value());
      }
      continue;
    }
    if (!seen.emplace(key, true).second) {
      continue;  // Http_* carries the first value only
    }
    for (char& c : key) {
      if (c == '-') {
        c = '_';
      }
    }
    env.Add(StrCat("Http_", key, "=", std::string_view(field.value())));
  }
  env.Add(StrCat("Http_Method=", std::string_view(head.method_string())));
  if (flavor == CgiFlavor::kClassic) {
    env.Add(StrCat("Http_ContentLength=", content_length));
    env.Add(StrCat("Http_Content_Length=", content_length));
  }
  if (!transfer_encoding.empty()) {
    env.Add(StrCat("Http_Transfer_Encoding=", transfer_encoding));
  }
  http::Target target = http::SplitTarget(std::string_view(head.target()));
  if (!target.query.empty()) {
    env.Add(StrCat("Http_Query=", target.query));
  }
  std::string path = http::PercentDecode(target.path).value_or(std::string(target.path));
  if (!path.empty()) {
    env.Add(StrCat("Http_Path=", path));
  }
  if (flavor == CgiFlavor::kClassic) {
    std::string_view host = http::FieldValue(head, "Host");
    if (!host.empty()) {
      env.Add(StrCat("Http_Host=", host));
    }
  }
  return env.Take();
}

std::string MarshalRequest(const http::RequestHead& head, std::string_view body) {
  std::map<std::string, std::vector<std::string>> headers;  // sorted, as Go's encoder
  for (const auto& field : head) {
    std::string key = CanonicalHeaderKey(std::string_view(field.name_string()));
    if (key == "Host" || key == "Transfer-Encoding") {
      continue;
    }
    headers[key].emplace_back(field.value());
  }
  std::string out = "{\"header\":{";
  bool first = true;
  for (const auto& [key, values] : headers) {
    if (!first) {
      out.push_back(',');
    }
    first = false;
    out.push_back('"');
    AppendJsonEscaped(out, key);
    out += "\":[";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) {
        out.push_back(',');
      }
      out.push_back('"');
      AppendJsonEscaped(out, values[i]);
      out.push_back('"');
    }
    out.push_back(']');
  }
  out += "},\"body\":{\"raw\":\"";
  out += Base64Encode(body);
  out += "\"}}";
  return out;
}

}  // namespace funcd::watchdog
