// funcd: the server (`funcd serve`) and, later, the client commands. main only wires flags.

#include <CLI/CLI.hpp>
#include <cstdio>

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
  serve_cmd->add_option("--threads", serve.threads, "I/O threads (default: one per CPU)");
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

  CLI11_PARSE(app, argc, argv);
  if (serve_cmd->parsed()) {
    serve.upstream_timeout = ToDuration(upstream_timeout);
    serve.read_timeout = ToDuration(read_timeout);
    serve.write_timeout = ToDuration(write_timeout);
    return funcd::cli::Serve(serve);
  }
  return 0;
}
