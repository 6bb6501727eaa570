#include "cli/client.h"

namespace funcd::cli {

ClientCommands::ClientCommands(CLI::App& app) {
  RegisterLoginCommands(app, registry_);
  RegisterBuildCommands(app, registry_);
  RegisterFunctionCommands(app, registry_);
  RegisterLogsCommands(app, registry_);
  RegisterInvokeCommands(app, registry_);
  RegisterSecretCommands(app, registry_);
  RegisterNamespaceCommands(app, registry_);
}

}  // namespace funcd::cli
