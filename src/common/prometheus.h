#pragma once

// Prometheus metrics: counters, gauges and histograms with labels, rendered in the text
// exposition format. Thread-safe; recording on an existing series is lock-free.

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace funcd::prometheus {

// The default buckets of the Prometheus client libraries (seconds).
inline const std::vector<double>& DefaultBuckets() {
  static const std::vector<double> kBuckets = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
  return kBuckets;
}

// One series of a counter or gauge.
class Value {
 public:
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Increment() { Add(1); }
  void Decrement() { Add(-1); }
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  double Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// One series of a histogram.
class HistogramSeries {
 public:
  explicit HistogramSeries(const std::vector<double>& bounds);
  void Observe(double value);
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  friend class Family;
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // non-cumulative counts per bound
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

enum class Kind { kCounter, kGauge, kHistogram };

// A metric name with its label names; series are created on first use and live as long as
// the family. References returned by WithLabels stay valid.
class Family {
 public:
  Family(std::string name, std::string help, Kind kind, std::vector<std::string> label_names,
         std::vector<double> buckets);

  // REQUIRES: values.size() == label_names().size(); kind is kCounter or kGauge.
  Value& WithLabels(std::initializer_list<std::string_view> values);
  // REQUIRES: as above; kind is kHistogram.
  HistogramSeries& HistogramWithLabels(std::initializer_list<std::string_view> values);
  // Drops the series with these label values (a function that was removed).
  void Remove(std::initializer_list<std::string_view> values);

  const std::string& name() const { return name_; }
  void Render(std::string& out) const;

 private:
  std::string Key(std::initializer_list<std::string_view> values) const;

  const std::string name_;
  const std::string help_;
  const Kind kind_;
  const std::vector<std::string> label_names_;
  const std::vector<double> buckets_;
  mutable std::mutex mu_;
  // Key: label values joined with '\x1f'.
  std::map<std::string, std::unique_ptr<Value>, std::less<>> values_;
  std::map<std::string, std::unique_ptr<HistogramSeries>, std::less<>> histograms_;
};

// A set of families rendered together on /metrics.
class Registry {
 public:
  Family& Counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family& Gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family& Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                    std::vector<double> buckets = DefaultBuckets());

  // The text exposition format (version 0.0.4).
  std::string Render() const;

 private:
  Family& Add(std::unique_ptr<Family> family);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
};

// Formats a sample value as Prometheus expects ("+Inf", shortest round-trip decimal).
std::string FormatValue(double value);

}  // namespace funcd::prometheus
