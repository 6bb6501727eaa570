#pragma once

#include <map>
#include <string>

struct Request {
  std::string method;
  std::string path;                            // "/a/b"
  std::string query;                           // "x=1&y=2"
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct Response {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
};

// Answers one request. Called from several threads at once.
Response Handle(const Request& request);
