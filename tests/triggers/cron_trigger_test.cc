// Cron triggers inside funcd serve: functions with topic cron-function run on their schedule,
// with the connector contract's request, and stop when removed or unscheduled.

#include <gtest/gtest.h>

#include "common/strings.h"
#include "tests/triggers/brokers.h"

namespace funcd::testing {
namespace {

namespace json = boost::json;

class CronTriggerTest : public GatewayTest {
 protected:
  void TearDown() override {
    if (funcd_) {
      ExpectCleanExit(funcd());
    }
  }
};

json::object CronAnnotations(std::string_view schedule) {
  return json::object{{"topic", "cron-function"}, {"schedule", schedule}};
}

std::string Counts(FuncdServer& funcd, std::string_view key) {
  return StrCat(
      "invocations of ", key, ": ",
      MetricSum(funcd, "funcd_trigger_invocations_total", {StrCat("function_name=\"", key, "\"")}));
}

TEST_F(CronTriggerTest, EverySecondRunsAboutOnceASecondAndStopsWhenRemoved) {
  ASSERT_TRUE(funcd().DeployAndWait(RecordingFunction("ticker", CronAnnotations("@every 1s"))));
  // A second function that keeps running shows that time passed for the scheduler.
  ASSERT_TRUE(funcd().DeployAndWait(RecordingFunction("witness", CronAnnotations("@every 1s"))));

  // Runs that came before the replica was ready may be bunched; time the later ones.
  const std::size_t before = Records(funcd(), "ticker").size();
  auto records = WaitForRecords(funcd(), "ticker", before + 4);
  ASSERT_GE(records.size(), before + 4) << Counts(funcd(), "ticker.openfaas-fn");
  for (const json::object& record : records) {
    EXPECT_EQ(StringField(record, "method"), "POST");
    EXPECT_EQ(StringField(record, "X-Topic"), "cron-function");
    EXPECT_EQ(StringField(record, "X-Connector"), "funcd-cron");
    EXPECT_EQ(StringField(record, "body"), "");
    EXPECT_EQ(StringField(record, "X-Call-Id").size(), 36u);
  }
  EXPECT_NE(StringField(records[0], "X-Call-Id"), StringField(records[1], "X-Call-Id"));
  const std::int64_t first = IntField(records[before], "at_ms");
  const std::int64_t last = IntField(records[before + 3], "at_ms");
  const double mean_interval_ms = static_cast<double>(last - first) / 3;
  EXPECT_GT(mean_interval_ms, 600) << "runs came too often";
  EXPECT_LT(mean_interval_ms, 1600) << "runs came too seldom";
  EXPECT_GE(
      MetricSum(funcd(), "funcd_trigger_invocations_total",
                {R"(trigger="cron")", R"(function_name="ticker.openfaas-fn")", R"(code="200")"}),
      4);

  ASSERT_EQ(DeleteFunction(funcd(), "ticker"), 202u);
  const double after_delete = MetricSum(funcd(), "funcd_trigger_invocations_total",
                                        {R"(function_name="ticker.openfaas-fn")"});
  const double witness = MetricSum(funcd(), "funcd_trigger_invocations_total",
                                   {R"(function_name="witness.openfaas-fn")"});
  // Three more runs of the witness: three more seconds in which the ticker did not run.
  ASSERT_TRUE(Eventually(
      [&] {
        return MetricSum(funcd(), "funcd_trigger_invocations_total",
                         {R"(function_name="witness.openfaas-fn")"}) >= witness + 3;
      },
      std::chrono::seconds(15), std::chrono::milliseconds(100)));
  // A run already in progress at the delete may finish; none may start (it would get 404).
  EXPECT_LE(MetricSum(funcd(), "funcd_trigger_invocations_total",
                      {R"(function_name="ticker.openfaas-fn")"}),
            after_delete + 1);
  EXPECT_EQ(MetricSum(funcd(), "funcd_trigger_invocations_total",
                      {R"(function_name="ticker.openfaas-fn")", R"(code="404")"}),
            0);
  EXPECT_TRUE(funcd().process().WaitForLog("cron: ticker.openfaas-fn unscheduled"));
}

TEST_F(CronTriggerTest, UpdateReschedulesAtOnce) {
  // Once a year: nothing during the test.
  ASSERT_TRUE(funcd().DeployAndWait(RecordingFunction("yearly", CronAnnotations("@yearly"))));
  json::object updated = RecordingFunction("yearly", CronAnnotations("@every 1s"));
  ASSERT_EQ(funcd().Update(updated), 202u);
  EXPECT_GE(WaitForRecords(funcd(), "yearly", 2, std::chrono::seconds(10)).size(), 2u);

  // Without the topic it stops; the function itself stays.
  json::object plain = RecordingFunction("yearly", json::object{{"schedule", "@every 1s"}});
  ASSERT_EQ(funcd().Update(plain), 202u);
  EXPECT_TRUE(funcd().process().WaitForLog("cron: yearly.openfaas-fn unscheduled"));
  const double stopped = MetricSum(funcd(), "funcd_trigger_invocations_total",
                                   {R"(function_name="yearly.openfaas-fn")"});
  ASSERT_TRUE(funcd().DeployAndWait(RecordingFunction("witness", CronAnnotations("@every 1s"))));
  WaitForRecords(funcd(), "witness", 3);
  EXPECT_LE(MetricSum(funcd(), "funcd_trigger_invocations_total",
                      {R"(function_name="yearly.openfaas-fn")"}),
            stopped + 1);
}

TEST_F(CronTriggerTest, BadScheduleIsLoggedAndSchedulesNothing) {
  ASSERT_TRUE(funcd().DeployAndWait(RecordingFunction("broken", CronAnnotations("61 * * * *"))));
  auto line = funcd().process().WaitForLog("cron: broken.openfaas-fn not scheduled");
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("minute"), std::string::npos) << *line;
  json::object zoned = RecordingFunction("zoned", CronAnnotations("0 9 * * MON-FRI; @every 1s"));
  zoned["annotations"].as_object()["com.openfaas.schedule.tz"] = "Europe/Berlin";
  ASSERT_TRUE(funcd().DeployAndWait(zoned));
  auto scheduled = funcd().process().WaitForLog("cron: zoned.openfaas-fn scheduled");
  ASSERT_TRUE(scheduled);
  EXPECT_NE(scheduled->find("(Europe/Berlin)"), std::string::npos) << *scheduled;
  json::object nowhere = RecordingFunction("nowhere", CronAnnotations("@every 1s"));
  nowhere["annotations"].as_object()["com.openfaas.schedule.tz"] = "Nowhere/Atlantis";
  ASSERT_EQ(funcd().Deploy(nowhere), 202u);
  EXPECT_TRUE(funcd().process().WaitForLog("cron: nowhere.openfaas-fn not scheduled"));
  EXPECT_GE(WaitForRecords(funcd(), "zoned", 1).size(), 1u);
  EXPECT_TRUE(Records(funcd(), "broken").empty());
  EXPECT_TRUE(Records(funcd(), "nowhere").empty());
}

TEST_F(CronTriggerTest, NoOverlappingRunsUnlessAllowed) {
  // Each run takes 2.5 s; a run every second. Without overlap, the runs due meanwhile are
  // skipped, so no two runs are ever in the function at once.
  json::object slow = RecordingFunction("slow", CronAnnotations("@every 1s"),
                                        json::object{{"fixture_record_delay_ms", "2500"}});
  ASSERT_TRUE(funcd().DeployAndWait(slow));
  auto records = WaitForRecords(funcd(), "slow", 3, std::chrono::seconds(20));
  ASSERT_GE(records.size(), 3u);
  for (const json::object& record : records) {
    EXPECT_EQ(IntField(record, "inflight"), 1) << ToJson(record);
  }
  EXPECT_GE(MetricSum(funcd(), "funcd_trigger_skipped_total",
                      {R"(trigger="cron")", R"(function_name="slow.openfaas-fn")"}),
            2);

  json::object overlapping = RecordingFunction("overlapping", CronAnnotations("@every 1s"),
                                               json::object{{"fixture_record_delay_ms", "2500"}});
  overlapping["annotations"].as_object()["com.openfaas.schedule.overlap"] = "true";
  ASSERT_TRUE(funcd().DeployAndWait(overlapping));
  ASSERT_TRUE(Eventually(
      [&] {
        for (const json::object& record : Records(funcd(), "overlapping")) {
          if (IntField(record, "inflight") >= 2) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(15), std::chrono::milliseconds(100)))
      << "runs never overlapped although allowed";
}

TEST_F(CronTriggerTest, AsyncRunsGoThroughTheQueue) {
  json::object queued = RecordingFunction("queued", CronAnnotations("@every 1s"));
  queued["annotations"].as_object()["com.openfaas.trigger.async"] = "true";
  ASSERT_TRUE(funcd().DeployAndWait(queued));
  auto records = WaitForRecords(funcd(), "queued", 1);
  ASSERT_GE(records.size(), 1u) << funcd().process().Log();
  EXPECT_EQ(StringField(records[0], "X-Topic"), "cron-function");
  EXPECT_EQ(StringField(records[0], "X-Connector"), "funcd-cron");
  EXPECT_GE(
      MetricSum(funcd(), "funcd_trigger_invocations_total",
                {R"(trigger="cron")", R"(function_name="queued.openfaas-fn")", R"(code="202")"}),
      1);
  Reply status =
      funcd().Api("GET", StrCat("/system/async/calls/", StringField(records[0], "X-Call-Id")));
  ASSERT_EQ(status.status, 200u) << status.body;
  EXPECT_EQ(StringField(ParseJson(status.body).as_object(), "function"), "queued.openfaas-fn");
}

}  // namespace
}  // namespace funcd::testing
