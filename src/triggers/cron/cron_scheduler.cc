#include "triggers/cron/cron_scheduler.h"

#include <boost/asio/system_timer.hpp>
#include <ctime>

#include "common/log.h"
#include "common/strings.h"
#include "triggers/cron/schedule.h"
#include "triggers/trigger_spec.h"

namespace funcd::triggers {

using Clock = std::chrono::system_clock;

struct CronScheduler::Job {
  Job(std::string function, CronJobSpec spec, cron::Schedule schedule,
      asio::any_io_executor executor)
      : function(std::move(function)),
        spec(std::move(spec)),
        schedule(std::move(schedule)),
        timer(std::move(executor)) {}

  const std::string function;
  const CronJobSpec spec;
  const cron::Schedule schedule;
  asio::system_timer timer;
  std::atomic<bool> stopped{false};
  int running = 0;  // runs in progress; touched on the timer's executor only
  int skipped = 0;  // runs skipped in a row; touched on the timer's executor only
};

namespace {

std::string FormatUtc(Clock::time_point at) {
  const std::time_t t = Clock::to_time_t(at);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void StopJob(const std::shared_ptr<CronScheduler::Job>& job) {
  job->stopped = true;
  asio::post(job->timer.get_executor(), [job] { job->timer.cancel(); });
}

asio::awaitable<void> RunOnce(std::shared_ptr<CronScheduler::Job> job, Dispatcher& dispatcher) {
  Delivery delivery;
  delivery.function = job->function;
  delivery.trigger = "cron";
  delivery.topic = std::string(kCronTopic);
  delivery.async = job->spec.async;
  delivery.headers.emplace_back("Content-Type", "text/plain");
  co_await dispatcher.Deliver(std::move(delivery));
  --job->running;
}

asio::awaitable<void> RunJob(std::shared_ptr<CronScheduler::Job> job, Dispatcher& dispatcher) {
  auto executor = co_await asio::this_coro::executor;
  Clock::time_point last = Clock::now();
  while (!job->stopped) {
    std::optional<Clock::time_point> next = job->schedule.Next(last);
    const Clock::time_point now = Clock::now();
    if (next && *next <= now) {
      next = job->schedule.Next(now);  // missed runs are not replayed
    }
    if (!next) {
      Logf("cron: %s has no further run on \"%s\"", job->function.c_str(),
           job->spec.schedule.c_str());
      co_return;
    }
    job->timer.expires_at(*next);
    co_await job->timer.async_wait(kUseAwaitableNoThrow);
    if (job->stopped) {
      co_return;
    }
    if (Clock::now() < *next) {
      continue;  // woken early (the wall clock moved back): wait again for the same run
    }
    last = *next;
    if (job->running > 0 && !job->spec.allow_overlap) {
      dispatcher.CountSkipped("cron", job->function);
      // One line when skipping starts, then one a minute or so: a stuck function would
      // otherwise log every second.
      if (job->skipped++ % 60 == 0) {
        Logf("cron: skipped the %s run of %s: the previous run is still going (%d in a row)",
             FormatUtc(*next).c_str(), job->function.c_str(), job->skipped);
      }
      continue;
    }
    job->skipped = 0;
    ++job->running;
    asio::co_spawn(executor, RunOnce(job, dispatcher), LogExceptions{"cron run"});
  }
}

}  // namespace

CronScheduler::CronScheduler(Dispatcher& dispatcher, ExecutorPicker pick_executor,
                             std::string zoneinfo_dir)
    : dispatcher_(dispatcher),
      pick_executor_(std::move(pick_executor)),
      zoneinfo_dir_(std::move(zoneinfo_dir)) {}

CronScheduler::~CronScheduler() { Stop(); }

void CronScheduler::Update(const std::string& function, const std::optional<CronJobSpec>& spec) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(function);
  if (it != jobs_.end()) {
    if (spec && it->second->spec == *spec) {
      return;
    }
    StopJob(it->second);
    jobs_.erase(it);
    if (!spec) {
      Logf("cron: %s unscheduled", function.c_str());
    }
  }
  if (!spec || stopped_) {
    return;
  }
  auto zone = cron::TimeZone::Load(spec->time_zone, zoneinfo_dir_);
  if (!zone) {
    Logf("cron: %s not scheduled: %s: %s", function.c_str(), kTimeZoneAnnotation.data(),
         zone.error().message.c_str());
    return;
  }
  auto schedule = cron::Schedule::Parse(spec->schedule, *zone, zoneinfo_dir_);
  if (!schedule) {
    Logf("cron: %s not scheduled: %s", function.c_str(),
         spec->schedule.empty() ? "topic cron-function without a schedule annotation"
                                : schedule.error().message.c_str());
    return;
  }
  auto next = schedule->Next(Clock::now());
  auto job = std::make_shared<Job>(function, *spec, std::move(*schedule), pick_executor_());
  jobs_.emplace(function, job);
  Logf("cron: %s scheduled \"%s\" (%s)%s, next run %s", function.c_str(), spec->schedule.c_str(),
       (*zone)->name().c_str(), spec->async ? ", async" : "",
       next ? FormatUtc(*next).c_str() : "never");
  asio::any_io_executor executor = job->timer.get_executor();
  asio::co_spawn(executor, RunJob(std::move(job), dispatcher_), LogExceptions{"cron job"});
}

void CronScheduler::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  for (auto& [function, job] : jobs_) {
    StopJob(job);
  }
  jobs_.clear();
}

std::size_t CronScheduler::size() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

}  // namespace funcd::triggers
