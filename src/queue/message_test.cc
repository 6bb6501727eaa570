#include "queue/message.h"

#include <gtest/gtest.h>

#include <random>

namespace funcd::queue {
namespace {

Message Sample() {
  Message m;
  m.call_id = "6b2f3c1e-0000-4000-8000-000000000001";
  m.function = "echo";
  m.key = "echo.openfaas-fn";
  m.method = "POST";
  m.path = "/a/b";
  m.query = "x=1&y=%20";
  m.host = "127.0.0.1:8080";
  m.callback_url = "http://127.0.0.1:9000/cb?k=v";
  m.enqueued_at = 1735689600123456789;
  m.headers = {{"Content-Type", "text/plain"}, {"X-Call-Id", m.call_id}, {"X-Empty", ""}};
  m.body = std::string("body with \0 a NUL", 17);
  return m;
}

TEST(MessageTest, MetaRoundTripKeepsEveryFieldButTheBody) {
  const Message m = Sample();
  Message decoded;
  ASSERT_TRUE(DecodeMeta(EncodeMeta(m), decoded));
  Message expected = m;
  expected.body.clear();
  EXPECT_EQ(decoded, expected);
}

TEST(MessageTest, FramedRoundTripIncludesTheBody) {
  const Message m = Sample();
  auto decoded = DecodeFramed(EncodeFramed(m));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, m);
}

TEST(MessageTest, EmptyMessageRoundTrips) {
  Message m;
  auto decoded = DecodeFramed(EncodeFramed(m));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, m);
}

TEST(MessageTest, LargeBodyAndManyHeadersRoundTrip) {
  Message m = Sample();
  m.body.assign(3 << 20, 'x');
  for (int i = 0; i < 300; ++i) {
    m.headers.push_back({"X-H" + std::to_string(i), std::string(static_cast<size_t>(i), 'v')});
  }
  auto decoded = DecodeFramed(EncodeFramed(m));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, m);
}

TEST(MessageTest, RejectsUnknownVersionAndTrailingBytes) {
  std::string meta = EncodeMeta(Sample());
  Message out;
  std::string wrong = meta;
  wrong[0] = 9;
  auto bad = DecodeMeta(wrong, out);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("version"), std::string::npos);
  EXPECT_FALSE(DecodeMeta(meta + "x", out));
  EXPECT_FALSE(DecodeMeta("", out));
}

TEST(MessageTest, EveryTruncationIsAnErrorNotACrash) {
  const std::string meta = EncodeMeta(Sample());
  for (std::size_t n = 0; n < meta.size(); ++n) {
    Message out;
    EXPECT_FALSE(DecodeMeta(std::string_view(meta).substr(0, n), out)) << "length " << n;
  }
}

TEST(MessageTest, RandomBytesNeverCrash) {
  std::mt19937 rng(42);
  const std::string meta = EncodeMeta(Sample());
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = meta;
    for (int flips = 0; flips < 3; ++flips) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng());
    }
    Message out;
    (void)DecodeMeta(bytes, out);
    (void)DecodeFramed(bytes);
  }
  // A header count that claims more headers than there are bytes fails fast.
  std::string huge = "\x01";
  for (int f = 0; f < 8; ++f) {
    huge += '\0';
  }
  huge += std::string("\x00\xff\xff\xff\xff\x0f", 6);
  Message out;
  EXPECT_FALSE(DecodeMeta(huge, out));
}

TEST(MessageTest, HopByHopAndFramingFieldsAreNotStored) {
  EXPECT_FALSE(IsStoredField("Connection"));
  EXPECT_FALSE(IsStoredField("transfer-encoding"));
  EXPECT_FALSE(IsStoredField("Content-Length"));
  EXPECT_FALSE(IsStoredField("Expect"));
  EXPECT_TRUE(IsStoredField("Content-Type"));
  EXPECT_TRUE(IsStoredField("X-Callback-Url"));
  EXPECT_TRUE(IsStoredField("Host"));
}

}  // namespace
}  // namespace funcd::queue
