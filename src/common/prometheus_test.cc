#include "common/prometheus.h"

#include <gtest/gtest.h>

namespace funcd::prometheus {
namespace {

TEST(PrometheusTest, RendersCountersGaugesAndHistograms) {
  Registry registry;
  Family& total = registry.Counter("http_requests_total", "total", {"code", "method"});
  Family& inflight = registry.Gauge("http_requests_in_flight", "in flight");
  Family& seconds = registry.Histogram("d_seconds", "durations", {"code"}, {0.1, 1});
  total.WithLabels({"200", "get"}).Increment();
  total.WithLabels({"200", "get"}).Increment();
  total.WithLabels({"429", "post"}).Increment();
  inflight.WithLabels({}).Set(3);
  seconds.HistogramWithLabels({"200"}).Observe(0.05);
  seconds.HistogramWithLabels({"200"}).Observe(0.5);
  seconds.HistogramWithLabels({"200"}).Observe(5);
  std::string text = registry.Render();
  EXPECT_NE(text.find("# TYPE http_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("http_requests_total{code=\"200\",method=\"get\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("http_requests_total{code=\"429\",method=\"post\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("http_requests_in_flight 3\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_bucket{code=\"200\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_bucket{code=\"200\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_bucket{code=\"200\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_count{code=\"200\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_sum{code=\"200\"} 5.55\n"), std::string::npos);
}

TEST(PrometheusTest, EscapesLabelValuesAndRemovesSeries) {
  Registry registry;
  Family& f = registry.Counter("c", "h", {"l"});
  f.WithLabels({"a\"b"}).Increment();
  f.WithLabels({"gone"}).Increment();
  f.Remove({"gone"});
  std::string text = registry.Render();
  EXPECT_NE(text.find("c{l=\"a\\\"b\"} 1"), std::string::npos);
  EXPECT_EQ(text.find("gone"), std::string::npos);
}

}  // namespace
}  // namespace funcd::prometheus
