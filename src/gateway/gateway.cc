#include "gateway/gateway.h"

#include "common/log.h"
#include "common/strings.h"
#include "common/version.h"
#include "gateway/async_api.h"
#include "gateway/autoscaler.h"
#include "gateway/ui.h"

namespace funcd::gateway {

Gateway::Gateway(GatewayOptions options, store::Store& store, provider::Provider& provider,
                 asio::thread_pool& blocking)
    : options_(std::move(options)),
      store_(store),
      provider_(provider),
      blocking_(blocking),
      invoker_(functions_, metrics_, options_.invoker,
               InvokerHooks{
                   .scale_from_zero = [this](const FunctionEntry& entry) { ScaleFromZero(entry); },
                   .saturated =
                       [this](const FunctionEntry& entry, std::int64_t demand) {
                         if (Autoscaler* autoscaler = autoscaler_.load()) {
                           autoscaler->Saturated(entry, demand, Autoscaler::Clock::now());
                         }
                       },
               }) {}

Gateway::~Gateway() = default;

std::string Gateway::NamespaceOrDefault(std::string_view name) const {
  return name.empty() ? options_.default_namespace : std::string(name);
}

provider::FunctionSpec Gateway::MakeSpec(const FunctionDeployment& d, std::int64_t replicas) const {
  provider::FunctionSpec spec;
  spec.ref = {NamespaceOrDefault(d.namespace_name), d.service};
  spec.image = d.image;
  spec.env_process = d.env_process;
  spec.env_vars = d.env_vars;
  spec.labels = d.labels;
  spec.annotations = d.annotations;
  spec.secrets = d.secrets;
  spec.read_only_root_filesystem = d.read_only_root_filesystem;
  spec.replicas = replicas;
  if (d.limits) {
    if (auto it = d.limits->values.find("memory"); it != d.limits->values.end()) {
      if (auto bytes = provider::ParseMemoryQuantity(it->second)) {
        spec.limits.memory_bytes = *bytes;
      }
    }
    if (auto it = d.limits->values.find("cpu"); it != d.limits->values.end()) {
      if (auto millis = provider::ParseCpuQuantity(it->second)) {
        spec.limits.cpu_millis = *millis;
      }
    }
  }
  return spec;
}

std::shared_ptr<FunctionEntry> Gateway::MakeEntry(const FunctionDeployment& deployment,
                                                  std::int64_t created_at, std::int64_t desired,
                                                  std::shared_ptr<FunctionStats> stats) {
  auto entry = std::make_shared<FunctionEntry>();
  entry->deployment = deployment;
  entry->deployment.namespace_name = NamespaceOrDefault(deployment.namespace_name);
  entry->ref = {entry->deployment.namespace_name, deployment.service};
  entry->key = entry->ref.Key();
  entry->created_at = created_at;
  entry->desired = desired;
  entry->timeout = FunctionTimeout(deployment.env_vars);
  entry->policy = ParseScalingPolicy(deployment.labels).value_or(ScalingPolicy{});
  entry->replicas = provider_.Replicas(entry->ref);
  entry->stats = stats ? std::move(stats)
                       : std::make_shared<FunctionStats>(
                             entry->key, metrics_.invocation_total, metrics_.functions_seconds,
                             metrics_.invocation_started, metrics_.inflight, metrics_.cold_starts);
  return entry;
}

FunctionStatus Gateway::StatusOf(const FunctionEntry& entry) const {
  gateway::FunctionStatus status;
  status.deployment = entry.deployment;
  status.created_at = entry.created_at;
  status.invocation_count = static_cast<double>(entry.stats->invocations.load());
  provider::ReplicaCounts counts = provider_.Counts(entry.ref);
  status.replicas = static_cast<std::uint64_t>(std::max<std::int64_t>(entry.desired, 0));
  status.available_replicas = static_cast<std::uint64_t>(std::max<std::int64_t>(counts.ready, 0));
  return status;
}

Result<void> Gateway::Restore() {
  FUNCD_ASSIGN_OR_RETURN(auto records, store_.ListFunctions(std::nullopt));
  for (const store::FunctionRecord& record : records) {
    auto deployment = ParseDeployment(record.spec_json);
    if (!deployment) {
      Logf("skipping stored function %s.%s: %s", record.name.c_str(), record.namespace_name.c_str(),
           deployment.error().message.c_str());
      continue;
    }
    deployment->namespace_name = record.namespace_name;
    provider_.Apply(MakeSpec(*deployment, record.replicas));
    functions_.Put(MakeEntry(*deployment, record.created_at, record.replicas, nullptr));
  }
  Logf("restored %zu functions", records.size());
  return Ok();
}

// ---------------------------------------------------------------------------------------
// Dispatch

asio::awaitable<void> Gateway::Serve(http::ServerExchange& ex) {
  RouteMatch match = MatchRoute(ex.head().method(), std::string_view(ex.head().target()));
  if (match.route == Route::kInvoke) {
    co_await invoker_.Invoke(ex, match);
    co_return;
  }
  if (match.needs_auth && options_.credentials &&
      !CheckBasicAuth(http::FieldValue(ex.head(), "Authorization"), *options_.credentials)) {
    ex.response().set(http::Field::www_authenticate, "Basic realm=\"Restricted\"");
    co_await ex.Respond(401, "invalid credentials");
    co_return;
  }
  co_await ServeAuthenticated(ex, match);
}

asio::awaitable<void> Gateway::ServeAuthenticated(http::ServerExchange& ex,
                                                  const RouteMatch& match) {
  using V = http::Verb;
  const V method = ex.head().method();
  switch (match.route) {
    case Route::kInvokeAsync:
    case Route::kAsyncSystem:
      if (async_api_ != nullptr) {  // set when funcd serve runs an async queue
        if (match.route == Route::kInvokeAsync) {
          co_await async_api_->ServeInvoke(ex, match);
        } else {
          co_await async_api_->ServeSystem(ex, match);
        }
        break;
      }
      [[fallthrough]];
    case Route::kNotFound:
      co_await ex.Respond(404, "404 page not found\n");
      break;
    case Route::kMethodNotAllowed:
      co_await ex.Respond(405, "", "");
      break;
    case Route::kRoot:
      ex.response().set(http::Field::location, "/ui/");
      co_await ex.Respond(307, "", "");
      break;
    case Route::kUi:
      co_await Ui(ex, match);
      break;
    case Route::kHealthz:
      co_await ex.Respond(200, "", "");
      break;
    case Route::kMetrics:
      co_await Metrics(ex);
      break;
    case Route::kInfo:
      co_await ex.Respond(
          200, SerializeInfo(provider_.name(), provider_.orchestration(), GitSha(), Version()),
          "application/json");
      break;
    case Route::kAlert:
      co_await Alert(ex);
      break;
    case Route::kFunctionStatus:
      co_await FunctionStatus(ex, match);
      break;
    case Route::kFunctions:
      if (method == V::get) {
        co_await ListFunctions(ex, match);
      } else if (method == V::delete_) {
        co_await DeleteFunction(ex, match);
      } else {
        co_await DeployFunction(ex, method == V::put);
      }
      break;
    case Route::kScale:
      co_await ScaleFunction(ex, match);
      break;
    case Route::kSecrets:
      co_await Secrets(ex, match);
      break;
    case Route::kLogs:
      co_await Logs(ex, match);
      break;
    case Route::kNamespaces:
      co_await Namespaces(ex);
      break;
    case Route::kNamespace:
      co_await Namespace(ex, match);
      break;
    case Route::kInvoke:
      break;  // handled before authentication
  }
}

asio::awaitable<void> Gateway::RespondError(http::ServerExchange& ex, const Error& error) {
  co_await ex.Respond(HttpStatusFor(error.code), error.message + "\n");
}

asio::awaitable<std::optional<std::string>> Gateway::ReadApiBody(http::ServerExchange& ex) {
  auto body = co_await ex.ReadAll(options_.max_api_body);
  if (!body) {
    if (body.error().code == ErrorCode::kResourceExhausted) {
      ex.CloseAfterResponse();
      co_await ex.Respond(413,
                          StrCat("request body larger than ", options_.max_api_body, " bytes\n"));
    } else {
      ex.CloseAfterResponse();
      co_await ex.Respond(400,
                          StrCat("cannot read the request body: ", body.error().message, "\n"));
    }
    co_return std::nullopt;
  }
  co_return std::move(*body);
}

asio::awaitable<Result<bool>> Gateway::NamespaceExists(std::string name) {
  if (name == options_.default_namespace) {
    co_return true;
  }
  auto found = co_await Blocking([&] { return store_.GetNamespace(name); });
  if (!found) {
    co_return found.error();
  }
  co_return found->has_value();
}

asio::awaitable<void> Gateway::Metrics(http::ServerExchange& ex) {
  for (const auto& entry : functions_.List("")) {
    metrics_.service_count.WithLabels({entry->key}).Set(static_cast<double>(entry->desired));
    metrics_.service_ready.WithLabels({entry->key})
        .Set(static_cast<double>(provider_.Counts(entry->ref).ready));
    metrics_.queued.WithLabels({entry->key}).Set(static_cast<double>(entry->replicas->waiting()));
  }
  co_await ex.Respond(200, metrics_.registry.Render(), "text/plain; version=0.0.4; charset=utf-8");
}

asio::awaitable<void> Gateway::Ui(http::ServerExchange& ex, const RouteMatch& match) {
  if (match.name == "/ui") {
    ex.response().set(http::Field::location, "/ui/");
    co_await ex.Respond(301, "", "");
    co_return;
  }
  co_await ex.Respond(200, UiPage(), "text/html; charset=utf-8");
}

// ---------------------------------------------------------------------------------------
// Functions

asio::awaitable<void> Gateway::ListFunctions(http::ServerExchange& ex, const RouteMatch& match) {
  const std::string ns = NamespaceOrDefault(QueryParam(match.query, "namespace"));
  auto exists = co_await NamespaceExists(ns);
  if (!exists) {
    co_await RespondError(ex, exists.error());
    co_return;
  }
  if (!*exists) {
    co_await ex.Respond(400, StrCat("namespace ", ns, " is not valid\n"));
    co_return;
  }
  std::vector<gateway::FunctionStatus> list;
  for (const auto& entry : functions_.List(ns)) {
    list.push_back(StatusOf(*entry));
  }
  co_await ex.Respond(200, SerializeFunctionList(list), "application/json");
}

asio::awaitable<void> Gateway::FunctionStatus(http::ServerExchange& ex, const RouteMatch& match) {
  const std::string ns = NamespaceOrDefault(QueryParam(match.query, "namespace"));
  auto entry = functions_.Find(StrCat(match.name, ".", ns));
  if (!entry) {
    co_await ex.Respond(404, "", "");
    co_return;
  }
  co_await ex.Respond(200, SerializeFunctionStatus(StatusOf(*entry)), "application/json");
}

asio::awaitable<void> Gateway::DeployFunction(http::ServerExchange& ex, bool update) {
  auto body = co_await ReadApiBody(ex);
  if (!body) {
    co_return;
  }
  auto parsed = ParseDeployment(*body);
  if (!parsed) {
    co_await RespondError(ex, parsed.error());
    co_return;
  }
  FunctionDeployment deployment = std::move(*parsed);
  if (auto valid = ValidateDeployment(deployment); !valid) {
    co_await RespondError(ex, valid.error());
    co_return;
  }
  deployment.namespace_name = NamespaceOrDefault(deployment.namespace_name);
  const std::string ns = deployment.namespace_name;
  auto exists = co_await NamespaceExists(ns);
  if (!exists || !*exists) {
    co_await ex.Respond(400, StrCat("namespace ", ns, " is not valid\n"));
    co_return;
  }
  for (const std::string& secret : deployment.secrets) {
    auto found = co_await Blocking([&] { return store_.ReadSecret(ns, secret); });
    if (!found) {
      co_await ex.Respond(400, StrCat("unable to find secret: ", secret, "\n"));
      co_return;
    }
  }
  const std::string key = StrCat(deployment.service, ".", ns);
  std::shared_ptr<const FunctionEntry> previous = functions_.Find(key);
  if (update && !previous) {
    co_await ex.Respond(404, StrCat("function: ", key, " not found\n"));
    co_return;
  }
  if (!update && previous) {
    co_await ex.Respond(409, StrCat("function ", key, " already exists; update it with PUT\n"));
    co_return;
  }
  auto policy = ParseScalingPolicy(deployment.labels);
  if (!policy) {
    co_await RespondError(ex, policy.error());
    co_return;
  }
  const std::int64_t min_replicas = policy->min;
  const std::int64_t desired = previous ? std::max(previous->desired, min_replicas) : min_replicas;
  provider::FunctionSpec spec = MakeSpec(deployment, desired);
  if (auto valid = provider_.Validate(spec); !valid) {
    co_await RespondError(ex, valid.error());
    co_return;
  }
  store::FunctionRecord record;
  record.name = deployment.service;
  record.namespace_name = ns;
  record.spec_json = SerializeDeployment(deployment);
  record.replicas = desired;
  auto stored = co_await Blocking([&] {
    return store_.PutFunction(record,
                              update ? store::PutMode::kReplaceOnly : store::PutMode::kCreateOnly);
  });
  if (!stored) {
    co_await RespondError(ex, stored.error());
    co_return;
  }
  auto reread = co_await Blocking([&] { return store_.GetFunction(ns, deployment.service); });
  const std::int64_t created_at = reread && *reread ? (*reread)->created_at : provider::UnixNanos();
  provider_.Apply(std::move(spec));
  functions_.Put(MakeEntry(deployment, created_at, desired, previous ? previous->stats : nullptr));
  Logf("%s function %s (%s), %lld replica(s)", update ? "updated" : "deployed", key.c_str(),
       deployment.image.c_str(), static_cast<long long>(desired));
  co_await ex.Respond(202, "", "");
}

asio::awaitable<void> Gateway::DeleteFunction(http::ServerExchange& ex, const RouteMatch& match) {
  auto body = co_await ReadApiBody(ex);
  if (!body) {
    co_return;
  }
  auto request = ParseDeleteRequest(*body);
  if (!request) {
    co_await RespondError(ex, request.error());
    co_return;
  }
  // faas-cli sends the namespace in the body; faas-netes reads the query. Accept both.
  std::string ns = request->namespace_name.empty() ? QueryParam(match.query, "namespace")
                                                   : request->namespace_name;
  ns = NamespaceOrDefault(ns);
  const std::string key = StrCat(request->function_name, ".", ns);
  if (!functions_.Find(key)) {
    co_await ex.Respond(404, StrCat("function ", key, " not found\n"));
    co_return;
  }
  auto deleted =
      co_await Blocking([&] { return store_.DeleteFunction(ns, request->function_name); });
  if (!deleted && deleted.error().code != ErrorCode::kNotFound) {
    co_await RespondError(ex, deleted.error());
    co_return;
  }
  auto entry = functions_.Erase(key);
  if (entry) {
    provider_.Remove(entry->ref);
    metrics_.service_count.Remove({key});
    metrics_.service_ready.Remove({key});
    metrics_.queued.Remove({key});
  }
  Logf("removed function %s", key.c_str());
  co_await ex.Respond(202, "", "");
}

bool Gateway::ApplyReplicas(const std::string& key, std::int64_t replicas, bool only_from_zero) {
  std::shared_ptr<const FunctionEntry> current;
  {
    std::lock_guard lock(scale_mu_);
    current = functions_.Find(key);
    if (!current || (only_from_zero && current->desired > 0) || current->desired == replicas) {
      return false;  // gone, or someone else scaled it already
    }
    auto updated = std::make_shared<FunctionEntry>(*current);
    updated->desired = replicas;
    functions_.Put(std::move(updated));
  }
  provider_.Scale(current->ref, replicas);
  return true;
}

asio::awaitable<Result<void>> Gateway::SetReplicas(std::shared_ptr<const FunctionEntry> entry,
                                                   std::int64_t replicas) {
  // The API answers after the new count is on disk.
  FUNCD_CO_RETURN_IF_ERROR(co_await Blocking(
      [&] { return store_.SetReplicas(entry->ref.namespace_name, entry->ref.name, replicas); }));
  if (ApplyReplicas(entry->key, replicas, false)) {
    metrics_.scale_events.WithLabels({entry->key, "api"}).Increment();
  }
  co_return Ok();
}

void Gateway::ScaleTo(const FunctionEntry& entry, std::int64_t replicas, const std::string& cause,
                      const std::string& reason, bool only_from_zero) {
  if (!ApplyReplicas(entry.key, replicas, only_from_zero)) {
    return;
  }
  Logf("%s: %s %lld -> %lld replicas (%s)", cause.c_str(), entry.key.c_str(),
       static_cast<long long>(entry.desired), static_cast<long long>(replicas), reason.c_str());
  metrics_.scale_events.WithLabels({entry.key, cause}).Increment();
  // Persist off the I/O thread; the replicas are already on their way.
  asio::post(blocking_, [this, ref = entry.ref, replicas] {
    if (auto saved = store_.SetReplicas(ref.namespace_name, ref.name, replicas);
        !saved && saved.error().code != ErrorCode::kNotFound) {
      Logf("cannot save the scale of %s: %s", ref.Key().c_str(), saved.error().message.c_str());
    }
  });
}

void Gateway::ScaleFromZero(const FunctionEntry& entry) {
  ScaleTo(entry, std::max(entry.policy.min, std::int64_t{1}), "scale-from-zero", "a call arrived",
          /*only_from_zero=*/true);
}

void Gateway::StartAutoscaler(asio::io_context& context, std::chrono::milliseconds interval) {
  autoscaler_owner_ = std::make_unique<Autoscaler>(
      functions_, provider_, metrics_,
      [this](const FunctionEntry& entry, std::int64_t replicas, const std::string& reason) {
        ScaleTo(entry, replicas, "autoscale", reason, false);
      },
      interval);
  autoscaler_.store(autoscaler_owner_.get());
  asio::co_spawn(context, autoscaler_owner_->Run(), LogExceptions{"autoscaler"});
}

asio::awaitable<void> Gateway::ScaleFunction(http::ServerExchange& ex, const RouteMatch& match) {
  auto body = co_await ReadApiBody(ex);
  if (!body) {
    co_return;
  }
  auto request = ParseScaleRequest(*body);
  if (!request) {
    co_await ex.Respond(
        400, StrCat("Error unmarshalling request body: ", request.error().message, "\n"));
    co_return;
  }
  std::string ns = request->namespace_name.empty() ? QueryParam(match.query, "namespace")
                                                   : request->namespace_name;
  ns = NamespaceOrDefault(ns);
  auto entry = functions_.Find(StrCat(match.name, ".", ns));
  if (!entry) {
    co_await ex.Respond(404, StrCat("function ", match.name, ".", ns, " not found\n"));
    co_return;
  }
  const std::int64_t replicas =
      std::min<std::int64_t>(static_cast<std::int64_t>(request->replicas), options_.max_replicas);
  if (auto scaled = co_await SetReplicas(entry, replicas); !scaled) {
    co_await RespondError(ex, scaled.error());
    co_return;
  }
  if (Autoscaler* autoscaler = autoscaler_.load()) {
    autoscaler->ScaledByHand(*entry, replicas, std::chrono::steady_clock::now());
  }
  co_await ex.Respond(202, "", "");
}

}  // namespace funcd::gateway
