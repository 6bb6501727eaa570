// funcd: the server (`funcd serve`) and the client commands (faas-cli's workflow). main only
// wires flags.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string_view>

#include "cli/client.h"
#include "cli/serve.h"
#include "common/config.h"
#include "common/strings.h"
#include "common/version.h"

namespace {

// Parses "60s", "1m30s" or plain seconds for a CLI flag.
std::function<std::string(const std::string&)> DurationCheck() {
  return [](const std::string& text) -> std::string {
    if (auto seconds = funcd::ParseInt(text); seconds && *seconds >= 0) {
      return "";
    }
    return funcd::ParseGoDuration(text) ? "" : "not a duration (e.g. 60s, 1m30s)";
  };
}

std::chrono::nanoseconds ToDuration(const std::string& text) {
  funcd::Environment env;
  env.Set("d", text);
  return env.GetDuration("d", std::chrono::seconds(60));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"funcd - functions as a service, OpenFaaS compatible, without Kubernetes"};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       std::string("funcd ") + funcd::Version() + " (" + funcd::GitSha() + ")");

  funcd::cli::ServeOptions serve;
  std::string upstream_timeout = "60s", read_timeout = "60s", write_timeout = "60s";
  CLI::App* serve_cmd =
      app.add_subcommand("serve", "Run the gateway, the OpenFaaS REST API and the process runtime");
  serve_cmd->add_option("--listen", serve.listen, "Address and port of the gateway")
      ->capture_default_str();
  serve_cmd->add_option("--state-dir", serve.state_dir,
                        "Where functions, secrets and packages are kept (default /var/lib/funcd "
                        "as root, else ~/.local/share/funcd)");
  serve_cmd
      ->add_option("--basic-auth", serve.basic_auth,
                   "Require basic auth on /system/* (credentials in STATE_DIR/secrets)")
      ->capture_default_str();
  serve_cmd->add_flag("--host-images", serve.host_images,
                      "Run images that are not in the package store against this machine's "
                      "/usr (e.g. functions/alpine with fprocess=cat)");
  serve_cmd
      ->add_option("--sandbox", serve.sandbox,
                   "Replica isolation: bwrap (namespaces, read-only root) or none")
      ->check(CLI::IsMember({"bwrap", "none"}))
      ->capture_default_str();
  serve_cmd->add_option("--fwatchdog", serve.fwatchdog,
                        "The fwatchdog binary (default: beside funcd)");
  serve_cmd->add_option("--threads", serve.threads,
                        "I/O threads (default: half the CPUs, at least 1)");
  serve_cmd->add_option("--upstream-timeout", upstream_timeout, "Longest a function call may take")
      ->check(DurationCheck())
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-queue", serve.max_queue,
                   "Calls that may wait per function while its replicas are full or starting; "
                   "more get 429 with Retry-After")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve_cmd->add_option("--read-timeout", read_timeout, "HTTP read inactivity timeout")
      ->check(DurationCheck())
      ->capture_default_str();
  serve_cmd->add_option("--write-timeout", write_timeout, "HTTP write inactivity timeout")
      ->check(DurationCheck())
      ->capture_default_str();
  serve_cmd->add_option(
      "--nats", serve.nats_url,
      "NATS server for triggers (topic: nats:SUBJECT), e.g. nats://127.0.0.1:4222");
  serve_cmd->add_option("--mqtt", serve.mqtt_url,
                        "MQTT broker for triggers (topic: mqtt:TOPIC), e.g. mqtt://127.0.0.1:1883");
  // Asynchronous invocation (/async-function): queue, workers, retry defaults.
  std::string retry_min_wait = "10s", retry_max_wait = "120s", async_retention = "1h";
  serve_cmd
      ->add_option("--queue", serve.queue,
                   "Async queue: sqlite (STATE_DIR/queue.db) or "
                   "nats://HOST:PORT[?ack_wait=DURATION&max_pending=N] (NATS JetStream, shared "
                   "by several funcd serve; work in progress). ack_wait (default 30s, at least "
                   "1s): calls in flight in a process that died are delivered again after it; "
                   "every process sharing the queue must give the same (or none). max_pending: "
                   "calls queued, retrying or running beyond which /async-function answers 429 "
                   "(0: no limit; default: the stream's)")
      ->capture_default_str();
  serve_cmd->add_option("--async-workers", serve.async_workers, "Async calls attempted at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve_cmd
      ->add_option("--async-max-body", serve.async_max_body,
                   "Largest async request body (bytes, or 10MB, 512KiB...)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  serve_cmd
      ->add_option("--retry-attempts", serve.retry_attempts,
                   "Attempts per async call, the first included (com.openfaas.retry.attempts)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve_cmd
      ->add_option("--retry-codes", serve.retry_codes,
                   "Function statuses that are retried (com.openfaas.retry.codes)")
      ->capture_default_str();
  serve_cmd
      ->add_option("--retry-min-wait", retry_min_wait,
                   "First retry delay; doubles per attempt (com.openfaas.retry.min_wait)")
      ->check(DurationCheck())
      ->capture_default_str();
  serve_cmd
      ->add_option("--retry-max-wait", retry_max_wait,
                   "Longest retry delay (com.openfaas.retry.max_wait)")
      ->check(DurationCheck())
      ->capture_default_str();
  serve_cmd
      ->add_option("--async-retention", async_retention,
                   "How long finished async calls stay visible to /system/async/calls/ID")
      ->check(DurationCheck())
      ->capture_default_str();

  funcd::cli::ClientCommands client(app);
  app.footer(
      "Client commands talk to the gateway in -g, the stack file's provider.gateway, "
      "$OPENFAAS_URL or http://127.0.0.1:8080.\nExit codes: 0 success, 1 failure, 2 usage error.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // An unknown command reads better named than as "A subcommand is required".
    const CLI::App& commands = app;
    if (argc > 1 && argv[1][0] != '-' &&
        commands.get_subcommands([&](const CLI::App* sub) { return sub->check_name(argv[1]); })
            .empty()) {
      std::fprintf(stderr, "funcd: unknown command \"%s\" (funcd --help lists the commands)\n",
                   argv[1]);
      return 2;
    }
    const int code = app.exit(e);
    // Usage errors of the client commands exit with 2; serve keeps CLI11's codes.
    const bool serve_args = argc > 1 && std::string_view(argv[1]) == "serve";
    return code == 0 || serve_args ? code : 2;
  }
  if (serve_cmd->parsed()) {
    serve.upstream_timeout = ToDuration(upstream_timeout);
    serve.read_timeout = ToDuration(read_timeout);
    serve.write_timeout = ToDuration(write_timeout);
    serve.retry_min_wait = ToDuration(retry_min_wait);
    serve.retry_max_wait = ToDuration(retry_max_wait);
    serve.async_retention = ToDuration(async_retention);
    return funcd::cli::Serve(serve);
  }
  return client.Run().value_or(0);
}
