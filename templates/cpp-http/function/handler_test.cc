// Checks Handle(); funcd build compiles and runs it before storing the package.
#include "handler.h"

#include <cstdio>

int main() {
  Request request;
  request.method = "POST";
  request.path = "/";
  request.body = "funcd";
  const Response response = Handle(request);
  const std::string want = "Hello from cpp-http! You said: funcd";
  if (response.status != 200 || response.body != want) {
    std::fprintf(stderr, "handler_test: got %d \"%s\", want 200 \"%s\"\n", response.status,
                 response.body.c_str(), want.c_str());
    return 1;
  }
  std::printf("handler_test: ok\n");
  return 0;
}
