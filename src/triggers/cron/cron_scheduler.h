#pragma once

// Runs functions on their cron schedules (topic cron-function, contracts §8.2): one timer
// per function on one of funcd's I/O threads, invoking through the Dispatcher with an empty
// body, X-Topic: cron-function and X-Connector: funcd-cron.
//
// - A run that is due while the previous run of the same function is still going is skipped
//   (counted in funcd_trigger_skipped_total) unless the function allows overlap.
// - Runs missed while funcd was down, or while the machine was too busy to fire the timer on
//   time, are not replayed: the next run is the schedule's next time after now.
// - A changed schedule replaces the job; a removed function's job stops at once (a run in
//   progress finishes).
//
// Thread-safe.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "triggers/connector.h"
#include "triggers/dispatcher.h"

namespace funcd::triggers {

struct CronJobSpec {
  std::string schedule;
  std::string time_zone;  // "" = UTC
  bool allow_overlap = false;
  bool async = false;
  bool operator==(const CronJobSpec&) const = default;
};

class CronScheduler {
 public:
  // REQUIRES: `dispatcher` outlives the scheduler and the I/O contexts' last run.
  CronScheduler(Dispatcher& dispatcher, ExecutorPicker pick_executor,
                std::string zoneinfo_dir = "/usr/share/zoneinfo");
  ~CronScheduler();
  CronScheduler(const CronScheduler&) = delete;

  // Starts, replaces or (nullopt) stops the job of `function`. A schedule that does not
  // parse is logged and leaves the function without a job.
  void Update(const std::string& function, const std::optional<CronJobSpec>& spec);
  // Stops every job; later Updates start none.
  void Stop();

  // Functions with a running job (for tests and logs).
  std::size_t size() const;

  struct Job;

 private:
  Dispatcher& dispatcher_;
  const ExecutorPicker pick_executor_;
  const std::string zoneinfo_dir_;
  mutable std::mutex mu_;
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
};

}  // namespace funcd::triggers
