#pragma once

// How fwatchdog turns a request into a function call: one ModeHandler per `mode`.

#include <memory>
#include <vector>

#include "common/asio.h"
#include "common/config.h"
#include "common/result.h"
#include "http/server.h"
#include "watchdog/config.h"

namespace funcd::watchdog {

// Serves function requests. Implementations are safe to use from every server thread.
class ModeHandler {
 public:
  virtual ~ModeHandler() = default;

  // Starts what runs for the whole life of the watchdog (http mode forks the function).
  // `contexts` are the server threads' contexts; `on_exit` is called (on contexts[0]) if
  // the function process dies on its own.
  virtual Result<void> Start(const std::vector<asio::io_context*>& contexts,
                             std::function<void(int exit_code)> on_exit) {
    (void)contexts;
    (void)on_exit;
    return Ok();
  }
  // True once the function can take requests (http mode: its server accepts connections).
  virtual bool Ready() const { return true; }
  // Completes when Ready() becomes true (or at once when it is).
  virtual asio::awaitable<void> WaitReady() { co_return; }
  virtual asio::awaitable<void> Serve(http::ServerExchange& exchange) = 0;
  // Stops the function process gracefully (SIGTERM, then SIGKILL after a grace period).
  virtual asio::awaitable<void> Stop() { co_return; }
};

// `base_env` is the environment passed on to function processes ("K=V").
std::unique_ptr<ModeHandler> MakeClassicHandler(const Config& config,
                                                std::vector<std::string> base_env);
std::unique_ptr<ModeHandler> MakeStreamingHandler(const Config& config,
                                                  std::vector<std::string> base_env);
std::unique_ptr<ModeHandler> MakeSerializingHandler(const Config& config,
                                                    std::vector<std::string> base_env);
std::unique_ptr<ModeHandler> MakeHttpHandler(const Config& config);
std::unique_ptr<ModeHandler> MakeStaticHandler(const Config& config);

// Header marking errors made by the watchdog rather than the function.
inline constexpr std::string_view kInternalHeader = "X-OpenFaaS-Internal";

}  // namespace funcd::watchdog
