#pragma once

// libmosquitto, the MQTT client, opened on first use (common/lazy_library.h): the MQTT trigger
// (triggers/mqtt/) calls Load() when it starts.

#include <mosquitto.h>

#include "common/lazy_library.h"

// Every function of libmosquitto that funcd calls; Load() resolves them all. A new call needs its
// name here.
#define FUNCD_LIBMOSQUITTO_FUNCTIONS(X) \
  X(mosquitto_connack_string)           \
  X(mosquitto_connect_async)            \
  X(mosquitto_connect_callback_set)     \
  X(mosquitto_destroy)                  \
  X(mosquitto_disconnect)               \
  X(mosquitto_disconnect_callback_set)  \
  X(mosquitto_lib_init)                 \
  X(mosquitto_loop_start)               \
  X(mosquitto_loop_stop)                \
  X(mosquitto_message_callback_set)     \
  X(mosquitto_new)                      \
  X(mosquitto_reconnect_delay_set)      \
  X(mosquitto_strerror)                 \
  X(mosquitto_sub_topic_check)          \
  X(mosquitto_subscribe)                \
  X(mosquitto_subscribe_callback_set)   \
  X(mosquitto_topic_matches_sub)        \
  X(mosquitto_unsubscribe)              \
  X(mosquitto_username_pw_set)

namespace funcd {
// Defined in common/lazy_libraries.cc with the soname found at configure time.
extern LazyLibrary libmosquitto;
}  // namespace funcd

#define FUNCD_LIBMOSQUITTO_FUNCTION_(name) FUNCD_LAZY_FUNCTION(::funcd::libmosquitto, name)
FUNCD_LIBMOSQUITTO_FUNCTIONS(FUNCD_LIBMOSQUITTO_FUNCTION_)
