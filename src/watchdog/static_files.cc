// mode=static: serves static_path like Go's http.FileServer (index.html, directory
// listings, redirects for directory slashes, Last-Modified / If-Modified-Since, Range).

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "common/strings.h"
#include "common/unique_fd.h"
#include "watchdog/mode.h"

namespace funcd::watchdog {

namespace {

// Resolves "." and ".." and collapses slashes, as Go's path.Clean("/" + p).
std::string CleanPath(std::string_view path) {
  std::vector<std::string_view> parts;
  for (std::string_view part : Split(path, '/')) {
    if (part.empty() || part == ".") {
      continue;
    }
    if (part == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out = "/";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) {
      out.push_back('/');
    }
    out.append(parts[i]);
  }
  return out;
}

std::string_view MimeTypeFor(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"},
      {".csv", "text/csv; charset=utf-8"},
      {".xml", "text/xml; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/vnd.microsoft.icon"},
      {".pdf", "application/pdf"},
      {".wasm", "application/wasm"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".zip", "application/zip"},
      {".gz", "application/gzip"},
      {".mp4", "video/mp4"},
      {".webm", "video/webm"},
      {".mp3", "audio/mpeg"},
  };
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) {
    return {};
  }
  std::string ext = ToLower(name.substr(dot));
  for (const auto& [suffix, type] : kTypes) {
    if (ext == suffix) {
      return type;
    }
  }
  return {};
}

// Go's DetectContentType, reduced: text if the first bytes hold no binary control bytes.
std::string_view SniffType(std::string_view head) {
  for (unsigned char c : head) {
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f') {
      return "application/octet-stream";
    }
  }
  return "text/plain; charset=utf-8";
}

std::string HttpDateOf(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::optional<time_t> ParseHttpDate(std::string_view text) {
  struct tm tm {};
  std::string copy(text);
  const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) {
    return std::nullopt;
  }
  return timegm(&tm);
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string UrlEscapePath(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || std::string_view("-_.~/!$&'()*+,;=:@").find(static_cast<char>(c)) !=
                               std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

class StaticHandler final : public ModeHandler {
 public:
  explicit StaticHandler(const Config& config) : root_(config.static_path) {
    while (root_.size() > 1 && root_.back() == '/') {
      root_.pop_back();
    }
  }

  asio::awaitable<void> Serve(http::ServerExchange& exchange) override {
    http::Target target = http::SplitTarget(std::string_view(exchange.head().target()));
    auto decoded = http::PercentDecode(target.path);
    if (!decoded || decoded->find('\0') != std::string::npos) {
      co_await exchange.Respond(400, "400 Bad Request\n");
      co_return;
    }
    const std::string& url_path = *decoded;
    const std::string query = target.query.empty() ? "" : StrCat("?", target.query);
    if (url_path.ends_with("/index.html")) {
      co_await Redirect(exchange, StrCat("./", query));
      co_return;
    }
    const std::string clean = CleanPath(url_path);
    const std::string full = root_ + clean;
    struct stat st {};
    if (::stat(full.c_str(), &st) != 0) {
      co_await NotFoundOrForbidden(exchange, errno);
      co_return;
    }
    std::string file = full;
    if (S_ISDIR(st.st_mode)) {
      if (!url_path.ends_with("/")) {
        std::string base = clean.substr(clean.rfind('/') + 1);
        co_await Redirect(exchange, StrCat(base, "/", query));
        co_return;
      }
      std::string index = StrCat(full == "/" ? "" : full, "/index.html");
      struct stat index_st {};
      if (::stat(index.c_str(), &index_st) != 0 || S_ISDIR(index_st.st_mode)) {
        co_await ListDirectory(exchange, full);
        co_return;
      }
      file = index;
      st = index_st;
    } else if (url_path.ends_with("/")) {
      std::string base = clean.substr(clean.rfind('/') + 1);
      co_await Redirect(exchange, StrCat("../", base, query));
      co_return;
    }
    co_await ServeFile(exchange, file, st);
  }

 private:
  static asio::awaitable<void> Redirect(http::ServerExchange& exchange, std::string location) {
    exchange.response().set(http::Field::location, location);
    co_await exchange.Respond(301, "", "");
  }

  static asio::awaitable<void> NotFoundOrForbidden(http::ServerExchange& exchange, int err) {
    if (err == EACCES || err == EPERM) {
      co_await exchange.Respond(403, "403 Forbidden\n");
    } else {
      co_await exchange.Respond(404, "404 page not found\n");
    }
  }

  static asio::awaitable<void> ListDirectory(http::ServerExchange& exchange, std::string dir) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      co_await NotFoundOrForbidden(exchange, errno);
      co_return;
    }
    std::vector<std::string> names;
    while (struct dirent* entry = ::readdir(d)) {
      std::string name = entry->d_name;
      if (name == "." || name == "..") {
        continue;
      }
      struct stat st {};
      if (::stat(StrCat(dir, "/", name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        name.push_back('/');
      }
      names.push_back(std::move(name));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    std::string body = "<pre>\n";
    for (const std::string& name : names) {
      StrAppend(body, "<a href=\"", HtmlEscape(UrlEscapePath(name)), "\">", HtmlEscape(name),
                "</a>\n");
    }
    body += "</pre>\n";
    co_await exchange.Respond(200, body, "text/html; charset=utf-8");
  }

  static asio::awaitable<void> ServeFile(http::ServerExchange& exchange, std::string path,
                                         struct stat st) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      co_await NotFoundOrForbidden(exchange, errno);
      co_return;
    }
    auto& response = exchange.response();
    const std::string last_modified = HttpDateOf(st.st_mtime);
    response.set(http::Field::last_modified, last_modified);
    response.set(http::Field::accept_ranges, "bytes");
    if (auto since = http::FieldValue(exchange.head(), "If-Modified-Since"); !since.empty()) {
      if (auto t = ParseHttpDate(since); t && st.st_mtime <= *t) {
        response.erase(http::Field::accept_ranges);
        co_await exchange.Respond(304, "", "");
        co_return;
      }
    }
    std::string_view type = MimeTypeFor(path);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    std::uint64_t begin = 0;
    std::uint64_t length = size;
    if (auto range = http::FieldValue(exchange.head(), "Range");
        !range.empty() && range.starts_with("bytes=") &&
        range.find(',') == std::string_view::npos) {
      std::string_view spec = range.substr(6);
      size_t dash = spec.find('-');
      auto first = ParseUint(spec.substr(0, dash));
      auto last = dash == std::string_view::npos ? std::nullopt : ParseUint(spec.substr(dash + 1));
      bool ok = dash != std::string_view::npos;
      if (ok && first) {
        begin = *first;
        std::uint64_t end = last ? std::min(*last, size - 1) : size - 1;
        ok = begin < size && (!last || *last >= begin);
        length = ok ? end - begin + 1 : 0;
      } else if (ok && last && *last > 0) {  // suffix range: the last N bytes
        length = std::min(*last, size);
        begin = size - length;
      } else {
        ok = false;
      }
      if (!ok) {
        response.set(http::Field::content_range, StrCat("bytes */", size));
        co_await exchange.Respond(416, "invalid range: failed to overlap\n");
        co_return;
      }
      response.result(206);
      response.set(http::Field::content_range,
                   StrCat("bytes ", begin, "-", begin + length - 1, "/", size));
    } else {
      response.result(200);
    }
    if (exchange.head().method() == http::Verb::head) {
      if (type.empty()) {
        type = "application/octet-stream";
      }
      response.set(http::Field::content_type, type);
      co_await exchange.StartStream(length, {}, true);
      co_return;
    }
    char buf[64 * 1024];
    ssize_t n = ::pread(fd.get(), buf, std::min<std::uint64_t>(sizeof(buf), length),
                        static_cast<off_t>(begin));
    if (n < 0) {
      co_await exchange.Respond(500, "read error\n");
      co_return;
    }
    if (type.empty()) {
      type = SniffType(std::string_view(buf, static_cast<size_t>(std::min<ssize_t>(n, 512))));
    }
    response.set(http::Field::content_type, type);
    std::uint64_t sent = static_cast<std::uint64_t>(n);
    asio::const_buffer piece(buf, static_cast<size_t>(n));
    if (!co_await exchange.StartStream(length, std::span(&piece, n > 0 ? 1 : 0), sent >= length)) {
      co_return;
    }
    while (sent < length) {
      n = ::pread(fd.get(), buf, std::min<std::uint64_t>(sizeof(buf), length - sent),
                  static_cast<off_t>(begin + sent));
      if (n <= 0) {
        exchange.CloseAfterResponse();  // the file shrank: the response cannot be completed
        co_return;
      }
      sent += static_cast<std::uint64_t>(n);
      asio::const_buffer next(buf, static_cast<size_t>(n));
      if (!co_await exchange.WriteStream(std::span(&next, 1), sent >= length)) {
        co_return;
      }
    }
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<ModeHandler> MakeStaticHandler(const Config& config) {
  return std::make_unique<StaticHandler>(config);
}

}  // namespace funcd::watchdog
