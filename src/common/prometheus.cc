#include "common/prometheus.h"

#include <charconv>
#include <cmath>

#include "common/result.h"
#include "common/strings.h"

namespace funcd::prometheus {

std::string FormatValue(double value) {
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  if (std::isnan(value)) {
    return "NaN";
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, end);
}

HistogramSeries::HistogramSeries(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds.size()]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void HistogramSeries::Observe(double value) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Family::Family(std::string name, std::string help, Kind kind, std::vector<std::string> label_names,
               std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      kind_(kind),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {}

std::string Family::Key(std::initializer_list<std::string_view> values) const {
  FUNCD_CHECK(values.size() == label_names_.size());
  std::string key;
  for (std::string_view v : values) {
    key.append(v);
    key.push_back('\x1f');
  }
  return key;
}

Value& Family::WithLabels(std::initializer_list<std::string_view> values) {
  FUNCD_CHECK(kind_ != Kind::kHistogram);
  std::string key = Key(values);
  std::lock_guard lock(mu_);
  auto it = values_.find(key);
  if (it == values_.end()) {
    it = values_.emplace(std::move(key), std::make_unique<Value>()).first;
  }
  return *it->second;
}

HistogramSeries& Family::HistogramWithLabels(std::initializer_list<std::string_view> values) {
  FUNCD_CHECK(kind_ == Kind::kHistogram);
  std::string key = Key(values);
  std::lock_guard lock(mu_);
  auto it = histograms_.find(key);
  if (it == histograms_.end()) {
    it = histograms_.emplace(std::move(key), std::make_unique<HistogramSeries>(buckets_)).first;
  }
  return *it->second;
}

void Family::Remove(std::initializer_list<std::string_view> values) {
  std::string key = Key(values);
  std::lock_guard lock(mu_);
  values_.erase(key);
  histograms_.erase(key);
}

namespace {

void AppendEscapedLabel(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

// Renders `{a="x",b="y"` (no closing brace) from a '\x1f'-joined key, or "" without labels.
std::string LabelPrefix(const std::vector<std::string>& names, std::string_view key) {
  if (names.empty()) {
    return "";
  }
  std::string out = "{";
  size_t i = 0;
  for (const std::string& name : names) {
    size_t end = key.find('\x1f', i);
    if (i > 0) {
      out.push_back(',');
    }
    out += name;
    out += "=\"";
    AppendEscapedLabel(out, key.substr(i, end - i));
    out.push_back('"');
    i = end + 1;
  }
  return out;
}

}  // namespace

void Family::Render(std::string& out) const {
  StrAppend(out, "# HELP ", name_, " ", help_, "\n# TYPE ", name_, " ",
            kind_ == Kind::kCounter ? "counter"
            : kind_ == Kind::kGauge ? "gauge"
                                    : "histogram",
            "\n");
  std::lock_guard lock(mu_);
  if (kind_ != Kind::kHistogram) {
    for (const auto& [key, value] : values_) {
      std::string labels = LabelPrefix(label_names_, key);
      StrAppend(out, name_, labels, labels.empty() ? "" : "}", " ", FormatValue(value->Get()),
                "\n");
    }
    return;
  }
  for (const auto& [key, series] : histograms_) {
    std::string labels = LabelPrefix(label_names_, key);
    std::string open = labels.empty() ? "{" : labels + ",";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      cumulative += series->buckets_[i].load(std::memory_order_relaxed);
      StrAppend(out, name_, "_bucket", open, "le=\"", FormatValue(buckets_[i]), "\"} ", cumulative,
                "\n");
    }
    uint64_t count = series->Count();
    StrAppend(out, name_, "_bucket", open, "le=\"+Inf\"} ", count, "\n");
    std::string close = labels.empty() ? "" : "}";
    StrAppend(out, name_, "_sum", labels, close, " ", FormatValue(series->Sum()), "\n");
    StrAppend(out, name_, "_count", labels, close, " ", count, "\n");
  }
}

Family& Registry::Add(std::unique_ptr<Family> family) {
  std::lock_guard lock(mu_);
  families_.push_back(std::move(family));
  return *families_.back();
}

Family& Registry::Counter(std::string name, std::string help,
                          std::vector<std::string> label_names) {
  return Add(std::make_unique<Family>(std::move(name), std::move(help), Kind::kCounter,
                                      std::move(label_names), std::vector<double>{}));
}

Family& Registry::Gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return Add(std::make_unique<Family>(std::move(name), std::move(help), Kind::kGauge,
                                      std::move(label_names), std::vector<double>{}));
}

Family& Registry::Histogram(std::string name, std::string help,
                            std::vector<std::string> label_names, std::vector<double> buckets) {
  return Add(std::make_unique<Family>(std::move(name), std::move(help), Kind::kHistogram,
                                      std::move(label_names), std::move(buckets)));
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& family : families_) {
    family->Render(out);
  }
  return out;
}

}  // namespace funcd::prometheus
