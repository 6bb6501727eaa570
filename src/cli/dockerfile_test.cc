#include "cli/dockerfile.h"

#include <gtest/gtest.h>

namespace funcd::cli {
namespace {

TEST(DockerfileTest, CommandAndEnvironmentOfTheLastStage) {
  auto info = ParseDockerfile(R"(FROM golang AS build
ENV CGO_ENABLED=0
CMD ["ignored"]

FROM alpine
# the function
ENV greeting="hello world" mode=http
ENV legacy value with spaces
RUN apk add curl
ENTRYPOINT ["./server", "--port=8080"]
CMD ["-v"]
)");
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(*info->Fprocess(), "./server --port=8080 -v");
  EXPECT_EQ(info->environment.size(), 3u);
  EXPECT_EQ(info->environment.at("greeting"), "hello world");
  EXPECT_EQ(info->environment.at("mode"), "http");
  EXPECT_EQ(info->environment.at("legacy"), "value with spaces");
  ASSERT_EQ(info->warnings.size(), 1u);
  EXPECT_NE(info->warnings[0].find("Dockerfile:9: RUN"), std::string::npos);
}

TEST(DockerfileTest, ShellFormAndContinuations) {
  auto info = ParseDockerfile("FROM x\nCMD python3 \\\n  server.py\n");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(*info->Fprocess(), "python3 server.py");
  auto later = ParseDockerfile("FROM x\nCMD [\"a\"]\nENTRYPOINT [\"b\"]\n");
  EXPECT_EQ(*later->Fprocess(), "b");  // ENTRYPOINT resets an earlier CMD
}

TEST(DockerfileTest, ErrorsNameTheLine) {
  auto bad = ParseDockerfile("FROM x\n\nCMD [\"unterminated\"\n");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("Dockerfile:3"), std::string::npos);
  auto spaces = ParseDockerfile("FROM x\nCMD [\"sh\", \"-c\", \"echo hi\"]\n");
  ASSERT_TRUE(spaces.has_value());
  EXPECT_FALSE(spaces->Fprocess().has_value());  // fprocess is split on spaces
}

}  // namespace
}  // namespace funcd::cli
