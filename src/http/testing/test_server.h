#pragma once

// A Server with its own io_context thread, for tests.

#include <functional>
#include <memory>
#include <thread>

#include "http/server.h"

namespace funcd::http::testing {

// Adapts a function to the Handler interface. The function must not be a capturing lambda
// coroutine (g++ 12); have it call a named coroutine.
class FunctionHandler final : public Handler {
 public:
  using Fn = std::function<asio::awaitable<void>(ServerExchange&)>;
  explicit FunctionHandler(Fn fn) : fn_(std::move(fn)) {}
  asio::awaitable<void> Serve(ServerExchange& exchange) override { return fn_(exchange); }

 private:
  Fn fn_;
};

class TestServer {
 public:
  explicit TestServer(Handler& handler, ServerOptions options = {})
      : work_(asio::make_work_guard(context_)), server_({&context_}, handler, options) {
    auto port = server_.Listen("127.0.0.1", 0);
    FUNCD_CHECK(port.has_value());
    port_ = *port;
    server_.Start();
    thread_ = std::thread([this] { context_.run(); });
  }
  ~TestServer() { Stop(); }

  // Drains and stops the server thread; the io_context stays alive (and with it any I/O
  // objects of the test that belong to it) until destruction.
  void Stop() {
    if (!thread_.joinable()) {
      return;
    }
    asio::co_spawn(context_, server_.Shutdown(std::chrono::milliseconds(200)),
                   [this](std::exception_ptr) { work_.reset(); });
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  asio::io_context& context() { return context_; }
  Server& server() { return server_; }

 private:
  asio::io_context context_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  Server server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace funcd::http::testing
