#include "tests/integration/funcd_harness.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/asio.h"
#include "common/strings.h"
#include "http/client.h"

namespace funcd::testing {

namespace {

std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return std::string(TrimSpace(text.str()));
}

std::string NamespaceQuery(std::string_view ns) {
  return ns.empty() ? "" : StrCat("?namespace=", ns);
}

}  // namespace

FuncdServer::FuncdServer(std::string state_dir, FuncdOptions options)
    : state_dir_(std::move(state_dir)) {
  std::vector<std::string> argv;
  // If the test process dies (a crash, a timeout), funcd and with it its replicas die too.
  if (::access("/usr/bin/setpriv", X_OK) == 0) {
    argv = {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"};
  }
  argv.insert(argv.end(),
              {StrCat(BinDir(), "/funcd"), "serve", "--listen", "127.0.0.1:0", "--state-dir",
               state_dir_, "--host-images", "--sandbox", options.sandbox,
               // Two I/O threads, whatever the machine: the tests cover calls that cross them.
               "--threads", "2"});
  if (!options.basic_auth) {
    argv.push_back("--basic-auth=false");
  }
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  process_ = std::make_unique<Process>(argv, std::vector<std::string>{});
  constexpr std::string_view kListening = "funcd serve listening on http://127.0.0.1:";
  auto line = process_->WaitForLog(kListening, std::chrono::seconds(15));
  if (!line) {
    ADD_FAILURE() << "funcd serve did not start:\n" << process_->Log();
    return;
  }
  port_ = static_cast<std::uint16_t>(
      std::atoi(line->c_str() + line->find(kListening) + kListening.size()));
  if (options.basic_auth) {
    user_ = ReadTrimmed(StrCat(state_dir_, "/secrets/basic-auth-user"));
    password_ = ReadTrimmed(StrCat(state_dir_, "/secrets/basic-auth-password"));
  }
}

FuncdServer::~FuncdServer() {
  if (process_ && process_->started() && !stopped_) {
    Stop(std::chrono::seconds(15));
  }
  // A failed test shows what funcd said: a flake seen once in CI is otherwise a guess.
  if (process_ && ::testing::Test::HasFailure()) {
    const std::string log = process_->Log();
    constexpr size_t kTail = 16384;
    std::fprintf(stderr, "---- funcd serve log%s ----\n%s\n---- end of funcd serve log ----\n",
                 log.size() > kTail ? " (its end)" : "",
                 log.size() > kTail ? log.c_str() + log.size() - kTail : log.c_str());
  }
}

std::string FuncdServer::Authorization() const {
  return StrCat("Basic ", Base64Encode(StrCat(user_, ":", password_)));
}

Reply FuncdServer::Api(std::string method, std::string target, std::string body, Headers headers) {
  if (!password_.empty()) {
    headers.emplace_back("Authorization", Authorization());
  }
  if (!body.empty()) {
    headers.emplace_back("Content-Type", "application/json");
  }
  return Call(port_, std::move(method), std::move(target), std::move(body), std::move(headers));
}

Reply FuncdServer::Anonymous(std::string method, std::string target, std::string body,
                             Headers headers) {
  return Call(port_, std::move(method), std::move(target), std::move(body), std::move(headers));
}

Reply FuncdServer::Invoke(std::string_view name, std::string method, std::string path,
                          std::string body, Headers headers, std::chrono::milliseconds timeout) {
  return Call(port_, std::move(method), StrCat("/function/", name, path), std::move(body),
              std::move(headers), timeout);
}

unsigned FuncdServer::Deploy(const json::object& deployment) {
  Reply r = Api("POST", "/system/functions", ToJson(deployment));
  EXPECT_EQ(r.status, 202u) << "deploy " << ToJson(deployment) << ": " << r.body;
  return r.status;
}

unsigned FuncdServer::Update(const json::object& deployment) {
  return Api("PUT", "/system/functions", ToJson(deployment)).status;
}

bool FuncdServer::DeployAndWait(const json::object& deployment, std::int64_t replicas,
                                std::chrono::milliseconds timeout) {
  if (Deploy(deployment) != 202u) {
    return false;
  }
  const std::string name = StringField(deployment, "service");
  const std::string ns = StringField(deployment, "namespace");
  if (!WaitAvailable(name, replicas, timeout, ns)) {
    ADD_FAILURE() << name << " never had " << replicas << " available replica(s); logs:\n"
                  << Api("GET", StrCat("/system/logs?follow=false&name=", name,
                                       ns.empty() ? "" : StrCat("&namespace=", ns)))
                         .body;
    return false;
  }
  return true;
}

std::optional<json::object> FuncdServer::Status(std::string_view name, std::string_view ns) {
  Reply r = Api("GET", StrCat("/system/function/", name, NamespaceQuery(ns)));
  if (r.status != 200) {
    return std::nullopt;
  }
  json::value v = ParseJson(r.body);
  if (!v.is_object()) {
    return std::nullopt;
  }
  return v.as_object();
}

bool FuncdServer::WaitAvailable(std::string_view name, std::int64_t replicas,
                                std::chrono::milliseconds timeout, std::string_view ns) {
  return Eventually(
      [&] {
        auto status = Status(name, ns);
        return status && IntField(*status, "availableReplicas") >= replicas;
      },
      timeout);
}

std::vector<json::object> FuncdServer::Logs(std::string_view name, std::string_view extra_query) {
  Reply r = Api("GET", StrCat("/system/logs?name=", name, "&follow=false", extra_query));
  std::vector<json::object> out;
  if (r.status != 200) {
    ADD_FAILURE() << "logs of " << name << ": " << r.status << " " << r.body;
    return out;
  }
  for (std::string_view line : Split(r.body, '\n')) {
    if (line.empty()) {
      continue;
    }
    json::value v = ParseJson(line);
    if (v.is_object()) {
      out.push_back(v.as_object());
    }
  }
  return out;
}

std::optional<std::string> FuncdServer::WaitForFunctionLog(std::string_view name,
                                                           std::string_view needle,
                                                           std::chrono::milliseconds timeout) {
  std::optional<std::string> found;
  Eventually(
      [&] {
        for (const auto& message : Logs(name)) {
          std::string text = StringField(message, "text");
          if (text.find(needle) != std::string::npos) {
            found = std::move(text);
            return true;
          }
        }
        return false;
      },
      timeout, std::chrono::milliseconds(50));
  return found;
}

std::string FuncdServer::RuntimeEvents(std::string_view name) {
  std::string out;
  for (const auto& message : Logs(name)) {
    const std::string text = StringField(message, "text");
    if (text.starts_with("funcd: ")) {
      StrAppend(out, StringField(message, "instance"), " ", text, "\n");
    }
  }
  return out;
}

std::optional<int> FuncdServer::Stop(std::chrono::milliseconds timeout) {
  stopped_ = true;
  process_->Signal(SIGTERM);
  return process_->WaitExit(timeout);
}

void FuncdServer::Kill() {
  stopped_ = true;
  process_->Signal(SIGKILL);
  process_->WaitExit(std::chrono::seconds(10));
}

std::optional<Reply> TryCall(std::uint16_t port, std::string method, std::string target,
                             std::string body, Headers headers, std::chrono::milliseconds timeout) {
  http::Fields fields;
  for (auto& [name, value] : headers) {
    fields.insert(name, value);
  }
  auto result = RunSync(http::FetchUrl(std::move(method), StrCat("http://127.0.0.1:", port, target),
                                       std::move(fields), std::move(body), timeout));
  if (!result) {
    return std::nullopt;
  }
  Reply reply;
  reply.status = result->status;
  reply.headers = std::move(result->headers);
  reply.body = std::move(result->body);
  return reply;
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(interval);
  }
}

json::object HostFunction(std::string_view name, std::string_view fprocess) {
  json::object o;
  o["service"] = name;
  o["image"] = "functions/alpine:latest";
  o["envProcess"] = fprocess;
  return o;
}

json::object FixtureFunction(std::string_view name, bool direct) {
  json::object o;
  o["service"] = name;
  o["image"] = StrCat("dir://", BinDir());
  o["envProcess"] = "./fixture_function";
  if (direct) {
    o["annotations"] = json::object{{"com.funcd.watchdog", "none"}};
  } else {
    o["envVars"] = json::object{{"mode", "http"}};
  }
  return o;
}

json::value ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) {
    ADD_FAILURE() << "not JSON (" << ec.message() << "): " << text;
    return nullptr;
  }
  return v;
}

std::string StringField(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(json::string_view(key.data(), key.size()));
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
}

std::int64_t IntField(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) {
    return 0;
  }
  if (v->is_int64()) {
    return v->as_int64();
  }
  if (v->is_uint64()) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  if (v->is_double()) {
    return static_cast<std::int64_t>(v->as_double());
  }
  return 0;
}

std::string ToJson(const json::value& value) { return json::serialize(value); }

std::string RawRequest(std::string_view method, std::string_view target, const Headers& headers,
                       std::string_view body) {
  std::string out = StrCat(method, " ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const auto& [name, value] : headers) {
    StrAppend(out, name, ": ", value, "\r\n");
  }
  if (!body.empty()) {
    StrAppend(out, "Content-Length: ", body.size(), "\r\n");
  }
  StrAppend(out, "\r\n", body);
  return out;
}

unsigned RawStatus(std::string_view raw) {
  if (!raw.starts_with("HTTP/1.") || raw.size() < 12) {
    return 0;
  }
  return static_cast<unsigned>(std::atoi(std::string(raw.substr(9, 3)).c_str()));
}

bool ReadWholeResponse(http::testing::RawClient& client, std::chrono::milliseconds timeout) {
  if (!client.ReadUntil("\r\n\r\n", timeout)) {
    return false;
  }
  const std::string& raw = client.received();
  const size_t head_end = raw.find("\r\n\r\n") + 4;
  std::string head = raw.substr(0, head_end);
  for (char& c : head) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (head.find("transfer-encoding: chunked") != std::string::npos) {
    return client.ReadUntil("\r\n0\r\n\r\n", timeout);
  }
  const size_t at = head.find("content-length: ");
  if (at == std::string::npos) {
    return false;
  }
  const size_t length = static_cast<size_t>(std::atoll(head.c_str() + at + 16));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (client.received().size() < head_end + length && !client.closed() &&
         std::chrono::steady_clock::now() < deadline) {
    // A needle that is normally absent: this reads whatever arrives within 20 ms.
    client.ReadUntil(std::string(1, '\0'), std::chrono::milliseconds(20));
  }
  return client.received().size() >= head_end + length;
}

void GatewayTest::SetUp() {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "funcd serve runs replicas in cgroups and bubblewrap: run as root";
  }
  StartFuncd(Options());
}

void GatewayTest::StartFuncd(FuncdOptions options) {
  funcd_.reset();  // stops the previous server, if any
  funcd_ = std::make_unique<FuncdServer>(state_.path(), std::move(options));
  ASSERT_TRUE(funcd_->ok());
}

}  // namespace funcd::testing
