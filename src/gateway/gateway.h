#pragma once

// The funcd gateway: one HTTP handler for the OpenFaaS REST API (contracts §2), the
// invocation routes and the operational endpoints. It owns the function table, persists
// every change in the store before acknowledging it, and drives the provider.
//
// Thread-safe: Serve runs on every I/O thread; store calls run on a blocking-work pool.

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/asio.h"
#include "gateway/auth.h"
#include "gateway/function_table.h"
#include "gateway/invoker.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "http/server.h"
#include "provider/provider.h"
#include "store/store.h"

namespace funcd::gateway {

struct GatewayOptions {
  std::optional<Credentials> credentials;  // nullopt: basic auth off
  std::string default_namespace = std::string(kDefaultNamespace);
  InvokerOptions invoker;
  std::uint64_t max_api_body = 4 << 20;  // management request bodies
  std::int64_t max_replicas = 100;       // scale requests are capped here
};

class Gateway final : public http::Handler {
 public:
  // REQUIRES: store, provider and blocking outlive the gateway.
  Gateway(GatewayOptions options, store::Store& store, provider::Provider& provider,
          asio::thread_pool& blocking);
  ~Gateway() override;

  // Loads namespaces and functions from the store and starts their replicas. Blocking; call
  // once before serving.
  Result<void> Restore();

  asio::awaitable<void> Serve(http::ServerExchange& exchange) override;

  // Starts the autoscaler on `context`.
  void StartAutoscaler(asio::io_context& context,
                       std::chrono::milliseconds interval = std::chrono::seconds(2));

  GatewayMetrics& metrics() { return metrics_; }
  const FunctionTable& functions() const { return functions_; }
  // Calls made inside funcd (async workers) go through the same invoker as /function/.
  Invoker& invoker() { return invoker_; }
  // Serves /async-function/ and /system/async/ with `api` (not owned); 404 until set. Call
  // before serving.
  void SetAsyncApi(class AsyncApi* api) { async_api_ = api; }

 private:
  asio::awaitable<void> ServeAuthenticated(http::ServerExchange& ex, const RouteMatch& match);
  asio::awaitable<void> ListFunctions(http::ServerExchange& ex, const RouteMatch& match);
  asio::awaitable<void> DeployFunction(http::ServerExchange& ex, bool update);
  asio::awaitable<void> DeleteFunction(http::ServerExchange& ex, const RouteMatch& match);
  asio::awaitable<void> FunctionStatus(http::ServerExchange& ex, const RouteMatch& match);
  asio::awaitable<void> ScaleFunction(http::ServerExchange& ex, const RouteMatch& match);
  asio::awaitable<void> Secrets(http::ServerExchange& ex, const RouteMatch& match);
  asio::awaitable<void> Namespaces(http::ServerExchange& ex);
  asio::awaitable<void> Namespace(http::ServerExchange& ex, const RouteMatch& match);
  asio::awaitable<void> Logs(http::ServerExchange& ex, const RouteMatch& match);
  asio::awaitable<void> Alert(http::ServerExchange& ex);
  asio::awaitable<void> Metrics(http::ServerExchange& ex);
  asio::awaitable<void> Ui(http::ServerExchange& ex, const RouteMatch& match);

  // Reads the request body up to max_api_body; answers 413/400 itself on failure.
  asio::awaitable<std::optional<std::string>> ReadApiBody(http::ServerExchange& ex);
  // Answers with the error's HTTP status and message.
  asio::awaitable<void> RespondError(http::ServerExchange& ex, const Error& error);
  // True when the namespace exists (the default always does).
  asio::awaitable<Result<bool>> NamespaceExists(std::string name);
  std::string NamespaceOrDefault(std::string_view name) const;

  std::shared_ptr<FunctionEntry> MakeEntry(const FunctionDeployment& deployment,
                                           std::int64_t created_at, std::int64_t desired,
                                           std::shared_ptr<FunctionStats> stats);
  provider::FunctionSpec MakeSpec(const FunctionDeployment& deployment,
                                  std::int64_t replicas) const;
  gateway::FunctionStatus StatusOf(const FunctionEntry& entry) const;
  void ScaleFromZero(const FunctionEntry& entry);
  // Sets the desired count in the table and the provider; false when nothing changed (the
  // function is gone, already at that count, or - only_from_zero - no longer at zero).
  bool ApplyReplicas(const std::string& key, std::int64_t replicas, bool only_from_zero);
  // ApplyReplicas, then logs the decision and saves it in the background.
  void ScaleTo(const FunctionEntry& entry, std::int64_t replicas, const std::string& cause,
               const std::string& reason, bool only_from_zero);
  // Sets the desired replica count: store, table and provider.
  asio::awaitable<Result<void>> SetReplicas(std::shared_ptr<const FunctionEntry> entry,
                                            std::int64_t replicas);

  // Runs `fn` (blocking: store calls) on the blocking pool; resumes on the caller's thread.
  template <typename F>
  auto Blocking(F fn) -> asio::awaitable<decltype(fn())> {
    co_return co_await asio::co_spawn(blocking_, CallBlocking(std::move(fn)), asio::use_awaitable);
  }
  template <typename F>
  static asio::awaitable<std::invoke_result_t<F&>> CallBlocking(F fn) {
    co_return fn();
  }

  const GatewayOptions options_;
  store::Store& store_;
  provider::Provider& provider_;
  asio::thread_pool& blocking_;
  FunctionTable functions_;
  GatewayMetrics metrics_;
  Invoker invoker_;
  std::mutex scale_mu_;  // serializes desired-replica changes
  std::unique_ptr<class Autoscaler> autoscaler_owner_;
  std::atomic<class Autoscaler*> autoscaler_{nullptr};  // read by the invoker's hooks
  class AsyncApi* async_api_ = nullptr;
};

}  // namespace funcd::gateway
