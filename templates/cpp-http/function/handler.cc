#include "handler.h"

#include <cstdio>

Response Handle(const Request& request) {
  std::printf("handling %s %s (%zu bytes)\n", request.method.c_str(), request.path.c_str(),
              request.body.size());
  const std::string name = request.body.empty() ? "world" : request.body;
  return Response{200, {{"Content-Type", "text/plain"}}, "Hello from cpp-http! You said: " + name};
}
