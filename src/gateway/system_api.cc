// The rest of the management API: secrets, namespaces, logs and alerts.

#include <cmath>

#include "common/log.h"
#include "common/strings.h"
#include "gateway/gateway.h"

namespace funcd::gateway {

// ---------------------------------------------------------------------------------------
// Secrets

asio::awaitable<void> Gateway::Secrets(http::ServerExchange& ex, const RouteMatch& match) {
  const http::Verb method = ex.head().method();
  if (method == http::Verb::get) {
    const std::string ns = NamespaceOrDefault(QueryParam(match.query, "namespace"));
    auto exists = co_await NamespaceExists(ns);
    if (!exists || !*exists) {
      co_await ex.Respond(400, StrCat("namespace ", ns, " is not valid\n"));
      co_return;
    }
    auto list = co_await Blocking([&] { return store_.ListSecrets(ns); });
    if (!list) {
      co_await RespondError(ex, list.error());
      co_return;
    }
    std::vector<SecretListItem> items;
    for (const auto& record : *list) {
      items.push_back({record.name, record.namespace_name});
    }
    co_await ex.Respond(200, SerializeSecretList(items), "application/json");
    co_return;
  }
  auto body = co_await ReadApiBody(ex);
  if (!body) {
    co_return;
  }
  auto request = ParseSecret(*body);
  if (!request) {
    co_await RespondError(ex, request.error());
    co_return;
  }
  std::string ns = request->namespace_name.empty() ? QueryParam(match.query, "namespace")
                                                   : request->namespace_name;
  ns = NamespaceOrDefault(ns);
  if (!IsDns1123Subdomain(request->name)) {
    co_await ex.Respond(400, StrCat("invalid secret name \"", request->name,
                                    "\": use lower-case letters, digits, '-' and '.'\n"));
    co_return;
  }
  auto exists = co_await NamespaceExists(ns);
  if (!exists || !*exists) {
    co_await ex.Respond(400, StrCat("namespace ", ns, " is not valid\n"));
    co_return;
  }
  Result<void> done;
  if (method == http::Verb::delete_) {
    done = co_await Blocking([&] { return store_.DeleteSecret(ns, request->name); });
  } else {
    const store::PutMode mode =
        method == http::Verb::post ? store::PutMode::kCreateOnly : store::PutMode::kReplaceOnly;
    done = co_await Blocking(
        [&] { return store_.PutSecret(ns, request->name, request->value, mode); });
  }
  if (!done) {
    co_await RespondError(ex, done.error());
    co_return;
  }
  co_await ex.Respond(202, "", "");
}

// ---------------------------------------------------------------------------------------
// Namespaces

asio::awaitable<void> Gateway::Namespaces(http::ServerExchange& ex) {
  auto list = co_await Blocking([&] { return store_.ListNamespaces(); });
  if (!list) {
    co_await RespondError(ex, list.error());
    co_return;
  }
  std::vector<std::string> names{options_.default_namespace};
  for (const auto& record : *list) {
    if (record.name != options_.default_namespace) {
      names.push_back(record.name);
    }
  }
  co_await ex.Respond(200, SerializeStringArray(names), "application/json");
}

asio::awaitable<void> Gateway::Namespace(http::ServerExchange& ex, const RouteMatch& match) {
  const http::Verb method = ex.head().method();
  if (method == http::Verb::get) {
    if (match.name.empty()) {
      co_await ex.Respond(400, "namespace name is required\n");
      co_return;
    }
    FunctionNamespace ns;
    ns.name = match.name;
    if (match.name == options_.default_namespace) {
      ns.labels["openfaas"] = "1";
    } else {
      auto found = co_await Blocking([&] { return store_.GetNamespace(match.name); });
      if (!found) {
        co_await RespondError(ex, found.error());
        co_return;
      }
      if (!*found) {
        co_await ex.Respond(404, StrCat("namespace ", match.name, " not found\n"));
        co_return;
      }
      ns.labels = ParseStringMap((*found)->labels_json).value_or(StringMap{});
      ns.annotations = ParseStringMap((*found)->annotations_json).value_or(StringMap{});
    }
    co_await ex.Respond(200, SerializeNamespace(ns), "application/json");
    co_return;
  }
  if (method == http::Verb::delete_) {
    if (match.name.empty() || match.name == options_.default_namespace) {
      co_await ex.Respond(400, "the default namespace cannot be deleted\n");
      co_return;
    }
    if (!functions_.List(match.name).empty()) {
      co_await ex.Respond(
          409, StrCat("namespace ", match.name, " still has functions; remove them first\n"));
      co_return;
    }
    auto deleted = co_await Blocking([&] { return store_.DeleteNamespace(match.name); });
    if (!deleted) {
      co_await RespondError(ex, deleted.error());
      co_return;
    }
    co_await ex.Respond(202, "", "");
    co_return;
  }
  auto body = co_await ReadApiBody(ex);
  if (!body) {
    co_return;
  }
  auto parsed = ParseNamespace(*body);
  if (!parsed) {
    co_await RespondError(ex, parsed.error());
    co_return;
  }
  FunctionNamespace ns = std::move(*parsed);
  if (method == http::Verb::put && ns.name.empty()) {
    ns.name = match.name;
  }
  if (method == http::Verb::put && ns.name != match.name) {
    co_await ex.Respond(400, "the namespace name in the body must match the path\n");
    co_return;
  }
  if (!IsDns1123Label(ns.name)) {
    co_await ex.Respond(400, StrCat("invalid namespace name \"", ns.name, "\"\n"));
    co_return;
  }
  if (ns.name == options_.default_namespace) {
    co_await ex.Respond(409, StrCat("namespace ", ns.name, " already exists\n"));
    co_return;
  }
  // faasd wants the label openfaas=1 on its namespaces; funcd adds it instead of refusing.
  ns.labels.emplace("openfaas", "1");
  store::NamespaceRecord record;
  record.name = ns.name;
  record.labels_json = SerializeStringMap(ns.labels);
  record.annotations_json = SerializeStringMap(ns.annotations);
  const store::PutMode mode =
      method == http::Verb::post ? store::PutMode::kCreateOnly : store::PutMode::kReplaceOnly;
  auto stored = co_await Blocking([&] { return store_.PutNamespace(record, mode); });
  if (!stored) {
    co_await RespondError(ex, stored.error());
    co_return;
  }
  co_await ex.Respond(method == http::Verb::post ? 201 : 202, "", "");
}

// ---------------------------------------------------------------------------------------
// Logs

asio::awaitable<void> Gateway::Logs(http::ServerExchange& ex, const RouteMatch& match) {
  const std::string name = QueryParam(match.query, "name");
  const std::string ns = NamespaceOrDefault(QueryParam(match.query, "namespace"));
  const std::string instance = QueryParam(match.query, "instance");
  const std::string follow_text = QueryParam(match.query, "follow");
  const bool follow = follow_text == "true" || follow_text == "1";
  provider::LogQuery query;
  query.instance = instance;
  bool has_tail = false;
  bool has_since = false;
  const std::string tail_text = QueryParam(match.query, "tail", &has_tail);
  const std::string since_text = QueryParam(match.query, "since", &has_since);
  if (name.empty()) {
    co_await ex.Respond(400, "the name of the function is required (?name=)\n");
    co_return;
  }
  if (has_tail && !tail_text.empty()) {
    auto tail = ParseInt(tail_text);
    if (!tail) {
      co_await ex.Respond(422, "could not parse the log request\n");
      co_return;
    }
    query.tail = *tail;
  }
  if (has_since && !since_text.empty()) {
    auto since = ParseRfc3339(since_text);
    if (!since) {
      co_await ex.Respond(422, "could not parse the log request\n");
      co_return;
    }
    query.since = *since;
  }
  if (!query.since && !query.tail) {
    query.since = provider::UnixNanos() - std::int64_t{5} * 60 * 1000000000;  // last 5 minutes
  }
  const std::string key = StrCat(name, ".", ns);
  provider::LogStore& logs = provider_.logs();
  if (!functions_.Find(key) && logs.LastSequence(key) == 0) {
    co_await ex.Respond(404, StrCat("function ", key, " not found\n"));
    co_return;
  }
  ex.response().set(http::Field::content_type, "application/x-ndjson");
  std::vector<provider::LogEntry> entries = logs.Query(key, query);
  std::uint64_t cursor = entries.empty() ? logs.LastSequence(key) : entries.back().sequence;
  std::string chunk;
  for (const auto& entry : entries) {
    chunk += SerializeLogMessage(name, ns, entry.instance, entry.timestamp, entry.text);
  }
  asio::const_buffer first(chunk.data(), chunk.size());
  if (!co_await ex.StartStream(
          std::nullopt,
          chunk.empty() ? std::span<const asio::const_buffer>() : std::span(&first, 1), !follow)) {
    co_return;
  }
  if (!follow) {
    co_return;
  }
  // Follow: stream new lines as they arrive until the client goes away.
  auto waiter = Wakeup::Create(co_await asio::this_coro::executor);
  logs.Subscribe(key, waiter);
  for (;;) {
    std::vector<provider::LogEntry> more = logs.After(key, cursor, instance);
    if (!more.empty()) {
      cursor = more.back().sequence;
      chunk.clear();
      for (const auto& entry : more) {
        chunk += SerializeLogMessage(name, ns, entry.instance, entry.timestamp, entry.text);
      }
      asio::const_buffer piece(chunk.data(), chunk.size());
      if (!co_await ex.WriteStream(std::span(&piece, 1))) {
        break;
      }
      continue;
    }
    if (ex.connection().PeerClosed()) {
      break;
    }
    // Wake up now and then to notice a client that left while the function was silent.
    co_await waiter->Wait(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    if (!functions_.Find(key) && logs.After(key, cursor, instance).empty()) {
      break;  // the function was removed
    }
  }
  logs.Unsubscribe(key, waiter);
  ex.CloseAfterResponse();
}

// ---------------------------------------------------------------------------------------
// Alerts (contracts §6.2)

asio::awaitable<void> Gateway::Alert(http::ServerExchange& ex) {
  auto body = co_await ReadApiBody(ex);
  if (!body) {
    co_return;
  }
  auto batch = ParseAlert(*body);
  if (!batch) {
    co_await ex.Respond(400, batch.error().message);
    co_return;
  }
  std::string errors;
  int index = 0;
  for (const gateway::Alert& alert : batch->alerts) {
    std::string name, ns;
    SplitFunctionName(alert.function_name, &name, &ns);
    auto entry = functions_.Find(StrCat(name, ".", NamespaceOrDefault(ns)));
    ++index;
    if (!entry) {
      continue;  // unknown functions are skipped silently, as in CE
    }
    const std::int64_t min = entry->policy.min;
    const std::int64_t max = entry->policy.max;
    const std::int64_t factor =
        PositiveIntLabel(entry->deployment.labels, "com.openfaas.scale.factor", 10);
    const std::int64_t step =
        static_cast<std::int64_t>(std::ceil(static_cast<double>(max) / 100.0 * factor));
    std::int64_t target = entry->desired;
    if (alert.status == "firing" && step > 0) {
      target = std::min(entry->desired + step, max);
    } else if (alert.status != "firing") {
      target = min;
    }
    if (target == entry->desired) {
      continue;
    }
    if (auto scaled = co_await SetReplicas(entry, target); !scaled) {
      errors += StrCat("[", index, "] ", scaled.error().message, "\n");
    }
  }
  if (!errors.empty()) {
    co_await ex.Respond(500, errors);
    co_return;
  }
  co_await ex.Respond(200, "", "");
}

}  // namespace funcd::gateway
