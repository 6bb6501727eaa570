#include "tests/triggers/brokers.h"

#include <mosquitto.h>
#include <nats/nats.h>
#include <unistd.h>

#include <fstream>
#include <mutex>

#include "common/strings.h"

namespace funcd::testing {

namespace json = boost::json;

MosquittoBroker::MosquittoBroker(std::uint16_t fixed_port) {
  const std::string binary = FindProgram("mosquitto");
  if (binary.empty()) {
    ADD_FAILURE() << "mosquitto is not installed (apt-get install mosquitto)";
    return;
  }
  // mosquitto cannot pick its own port: try free ones until one sticks.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::uint16_t port = fixed_port != 0 ? fixed_port : FreePort();
    const std::string config = dir_.File("mosquitto.conf");
    std::ofstream(config) << "listener " << port << " 127.0.0.1\n"
                          << "allow_anonymous true\n"
                          << "persistence false\n"
                          << "log_dest stderr\n"
                          << "log_type error\nlog_type warning\nlog_type notice\n"
                          << "log_type information\n"
                          << "user root\n";
    process_ = std::make_unique<Process>(WithDeathSignal({binary, "-c", config}),
                                         std::vector<std::string>{});
    if (process_->WaitForLog(" running", std::chrono::seconds(10))) {
      port_ = port;
      return;
    }
  }
  ADD_FAILURE() << "mosquitto did not start:\n" << process_->Log();
}

std::string MosquittoBroker::url() const { return StrCat("mqtt://127.0.0.1:", port_); }

void NatsPublish(const std::string& url, const std::string& subject, const std::string& data,
                 const std::vector<std::pair<std::string, std::string>>& headers) {
  natsConnection* connection = nullptr;
  natsStatus status = natsConnection_ConnectTo(&connection, url.c_str());
  ASSERT_EQ(status, NATS_OK) << natsStatus_GetText(status);
  natsMsg* message = nullptr;
  ASSERT_EQ(natsMsg_Create(&message, subject.c_str(), nullptr, data.data(),
                           static_cast<int>(data.size())),
            NATS_OK);
  for (const auto& [name, value] : headers) {
    natsMsgHeader_Add(message, name.c_str(), value.c_str());
  }
  status = natsConnection_PublishMsg(connection, message);
  EXPECT_EQ(status, NATS_OK) << natsStatus_GetText(status);
  EXPECT_EQ(natsConnection_FlushTimeout(connection, 5000), NATS_OK);
  natsMsg_Destroy(message);
  natsConnection_Destroy(connection);
}

namespace {

std::optional<NatsReply> Request(const std::string& url, const std::string& subject,
                                 const std::string& data, std::chrono::milliseconds timeout,
                                 bool report) {
  natsConnection* connection = nullptr;
  natsStatus status = natsConnection_ConnectTo(&connection, url.c_str());
  if (status != NATS_OK) {
    if (report) {
      ADD_FAILURE() << "cannot connect to " << url << ": " << natsStatus_GetText(status);
    }
    natsConnection_Destroy(connection);
    return std::nullopt;
  }
  natsMsg* reply = nullptr;
  status = natsConnection_Request(&reply, connection, subject.c_str(), data.data(),
                                  static_cast<int>(data.size()), timeout.count());
  std::optional<NatsReply> out;
  if (status == NATS_OK) {
    out.emplace();
    out->data.assign(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
    const char* value = nullptr;
    if (natsMsgHeader_Get(reply, "X-Function-Status", &value) == NATS_OK) {
      out->function_status = value;
    }
    if (natsMsgHeader_Get(reply, "X-Call-Id", &value) == NATS_OK) {
      out->call_id = value;
    }
    natsMsg_Destroy(reply);
  } else if (report) {
    ADD_FAILURE() << "request to " << subject << ": " << natsStatus_GetText(status);
  }
  natsConnection_Destroy(connection);
  return out;
}

}  // namespace

std::optional<NatsReply> NatsRequest(const std::string& url, const std::string& subject,
                                     const std::string& data, std::chrono::milliseconds timeout) {
  return Request(url, subject, data, timeout, /*report=*/true);
}

std::optional<NatsReply> TryNatsRequest(const std::string& url, const std::string& subject,
                                        const std::string& data,
                                        std::chrono::milliseconds timeout) {
  return Request(url, subject, data, timeout, /*report=*/false);
}

bool MqttPublish(std::uint16_t port, const std::string& topic, const std::string& payload) {
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
  mosquitto* client = mosquitto_new(nullptr, true, nullptr);
  if (client == nullptr) {
    ADD_FAILURE() << "mosquitto_new failed";
    return false;
  }
  bool published = false;
  mosquitto_user_data_set(client, &published);
  mosquitto_publish_callback_set(client, [](mosquitto*, void* user, int) {
    *static_cast<bool*>(user) = true;  // the broker's PUBACK (QoS 1)
  });
  int rc = mosquitto_connect(client, "127.0.0.1", port, 10);
  if (rc == MOSQ_ERR_SUCCESS) {
    rc = mosquitto_publish(client, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                           payload.data(), 1, false);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rc == MOSQ_ERR_SUCCESS && !published && std::chrono::steady_clock::now() < deadline) {
    rc = mosquitto_loop(client, 100, 1);
  }
  mosquitto_disconnect(client);
  mosquitto_destroy(client);
  EXPECT_TRUE(published) << "publish to " << topic << ": " << mosquitto_strerror(rc);
  return published;
}

double MetricSum(FuncdServer& funcd, std::string_view metric,
                 const std::vector<std::string>& labels) {
  Reply reply = funcd.Api("GET", "/metrics");
  double sum = 0;
  for (std::string_view line : Split(reply.body, '\n')) {
    if (!line.starts_with(metric) || line.size() <= metric.size() || line[metric.size()] != '{') {
      continue;
    }
    bool all = true;
    for (const std::string& label : labels) {
      all = all && line.find(label) != std::string_view::npos;
    }
    const size_t space = line.rfind(' ');
    if (all && space != std::string_view::npos) {
      sum += std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
    }
  }
  return sum;
}

std::vector<json::object> Records(FuncdServer& funcd, std::string_view function) {
  std::vector<json::object> out;
  auto reply = TryCall(funcd.port(), "GET", StrCat("/function/", function, "/records"));
  if (!reply || reply->status != 200) {
    return out;
  }
  for (std::string_view line : Split(reply->body, '\n')) {
    if (!line.empty()) {
      json::value value = ParseJson(line);
      if (value.is_object()) {
        out.push_back(value.as_object());
      }
    }
  }
  return out;
}

std::vector<json::object> WaitForRecords(FuncdServer& funcd, std::string_view function,
                                         std::size_t count, std::chrono::milliseconds timeout) {
  std::vector<json::object> records;
  Eventually(
      [&] {
        records = Records(funcd, function);
        return records.size() >= count;
      },
      timeout, std::chrono::milliseconds(50));
  return records;
}

json::object RecordingFunction(std::string_view name, json::object annotations, json::object env) {
  json::object function = FixtureFunction(name);
  env["mode"] = "http";
  env["fixture_record"] = "1";
  function["envVars"] = std::move(env);
  function["annotations"] = std::move(annotations);
  return function;
}

unsigned DeleteFunction(FuncdServer& funcd, std::string_view name) {
  return funcd.Api("DELETE", "/system/functions", StrCat(R"({"functionName":")", name, R"("})"))
      .status;
}

void ExpectCleanExit(FuncdServer& funcd) {
  if (!funcd.ok()) {
    return;
  }
  EXPECT_EQ(funcd.Stop(std::chrono::seconds(20)), 0) << funcd.process().Log();
  const std::string log = funcd.process().Log();
  for (std::string_view report : {"AddressSanitizer", "LeakSanitizer", "runtime error:"}) {
    EXPECT_EQ(log.find(report), std::string::npos) << report << " in the log of funcd:\n" << log;
  }
}

}  // namespace funcd::testing
